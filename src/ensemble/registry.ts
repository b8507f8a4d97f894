import { EnsembleInvalidError, NotFoundError } from '../errors';
import type { ScriptRegistry } from '../runtime/context';
import type { Ensemble } from './ensemble';
import { loadEnsemble, type SourceFile } from './loader';
import type { Problem } from './problem';

export interface RegistryEntry {
  name: string;
  file: string;
  ensemble?: Ensemble;
  problems: Problem[];
}

/**
 * The ensembles of this deployment, loaded and compiled once per isolate (never per request).
 * A run that started on an older definition is compiled from its stored source, cached by hash.
 */
export class EnsembleRegistry {
  private readonly entries = new Map<string, RegistryEntry>();
  private readonly byHash = new Map<string, Ensemble>();
  private readonly scriptKeys: ReadonlySet<string>;

  constructor(files: readonly SourceFile[], readonly scripts: ScriptRegistry) {
    this.scriptKeys = new Set(Object.keys(scripts));
    for (const file of files) {
      const result = loadEnsemble(file, { scripts: this.scriptKeys });
      const entry: RegistryEntry = result.ok
        ? { name: result.ensemble.name, file: file.file, ensemble: result.ensemble, problems: [] }
        : { name: result.name, file: file.file, problems: result.problems };
      const clash = this.entries.get(entry.name);
      if (clash) {
        entry.ensemble = undefined;
        entry.problems = [...entry.problems, { file: file.file, line: 1, column: 1, code: 'duplicate-ensemble', message: `ensemble '${entry.name}' is also defined in ${clash.file}` }];
        this.entries.set(`${entry.name}@${file.file}`, entry);
        continue;
      }
      this.entries.set(entry.name, entry);
      if (entry.ensemble) this.byHash.set(entry.ensemble.hash, entry.ensemble);
    }
  }

  list(): RegistryEntry[] {
    return [...this.entries.values()];
  }

  /** The current definition of `name`; 404 when unknown, 422 with every problem when it does not load. */
  get(name: string): Ensemble {
    const entry = this.entries.get(name);
    if (!entry) throw new NotFoundError(`ensemble '${name}'`);
    if (!entry.ensemble) throw new EnsembleInvalidError(name, entry.problems);
    return entry.ensemble;
  }

  /** The definition a stored run started on: compiled from its own source when it changed since. */
  fromSource(file: SourceFile & { hash: string }): Ensemble {
    return this.byHash.get(file.hash) ?? compileDefinition(file, this.scripts);
  }
}

// Definitions of runs under way, by hash, once per isolate: a resumed run compiles only its own.
const compiled = new Map<string, Ensemble>();

/**
 * The definition a stored run started on, compiled from its own source alone (never from the
 * registry of ensembles/, which a bad file or a deploy may have changed). Cached by hash.
 */
export function compileDefinition(file: SourceFile & { hash: string }, scripts: ScriptRegistry): Ensemble {
  const cached = compiled.get(file.hash);
  if (cached) return cached;
  const result = loadEnsemble(file, { scripts: new Set(Object.keys(scripts)) });
  if (!result.ok) throw new EnsembleInvalidError(result.name, result.problems);
  if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!);
  compiled.set(file.hash, result.ensemble);
  return result.ensemble;
}

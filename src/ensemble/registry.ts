import { EnsembleInvalidError, NotFoundError } from '../errors';
import type { ScriptRegistry } from '../runtime/context';
import type { Ensemble } from './ensemble';
import { loadEnsemble, type SourceFile } from './loader';
import type { Problem } from './problem';
import { publicNames } from '../secrets';
import type { StepKinds } from '../runtime/step-kind';
import { Library, type LibraryFile } from '../library/library';
import type { Trigger } from '../triggers/schema';

export interface RegistryEntry {
  name: string;
  file: string;
  ensemble?: Ensemble;
  problems: Problem[];
}

/**
 * A file of ensembles/, with what the build knows of it: the name its `ensemble:` line gives, and
 * whether it loads (tools/gen-registry.mjs runs the same loader), so loading can wait.
 */
export type RegistryFile = SourceFile & { name?: string; valid?: boolean };

interface Slot {
  name: string;
  source: RegistryFile;
  /** Loaded on first use: a cold isolate compiles only the ensembles it is asked for. */
  entry?: RegistryEntry;
  /** Another file already uses this name. */
  clash?: string;
}

/**
 * The ensembles of this deployment, each loaded and compiled at most once per isolate (never per
 * request), and only when first asked for: the first request of an isolate costs the same with 12
 * ensembles or 500. Files whose name is not known up front are loaded at once.
 * A run that started on an older definition is compiled from its stored source, cached by hash.
 */
export class EnsembleRegistry {
  private readonly slots = new Map<string, Slot>();
  private readonly byHash = new Map<string, Ensemble>();
  private readonly scriptKeys: ReadonlySet<string>;

  /**
   * `publicEnv`: the env names that are configuration (src/secrets.ts); the default is the
   * strictest, this product's own settings only, so every other name read is a secret.
   */
  constructor(files: readonly RegistryFile[], readonly scripts: ScriptRegistry, readonly kinds: StepKinds, private readonly publicEnv: ReadonlySet<string> = publicNames([], undefined), private readonly libraryFiles: readonly LibraryFile[] = []) {
    this.scriptKeys = new Set(Object.keys(scripts));
    for (const file of files) {
      let name = file.name;
      let entry: RegistryEntry | undefined;
      if (name === undefined) {
        entry = this.load(file);
        name = entry.name;
      }
      const clash = this.slots.get(name);
      if (clash) {
        this.slots.set(`${name}@${file.file}`, { name, source: file, entry, clash: clash.source.file });
        continue;
      }
      this.slots.set(name, { name, source: file, entry });
    }
  }

  private libraryCache?: Library;

  /** agents/ and prompts/, checked once per isolate when first needed. */
  library(): Library {
    this.libraryCache ??= new Library(this.libraryFiles, { kinds: this.kinds, scripts: this.scriptKeys });
    return this.libraryCache;
  }

  private load(file: RegistryFile): RegistryEntry {
    const result = loadEnsemble(file, { kinds: this.kinds, scripts: this.scriptKeys, publicEnv: this.publicEnv, library: this.libraryFiles.length ? this.library() : undefined });
    const entry: RegistryEntry = result.ok
      ? { name: result.ensemble.name, file: file.file, ensemble: result.ensemble, problems: [] }
      : { name: result.name, file: file.file, problems: result.problems };
    if (entry.ensemble) this.byHash.set(entry.ensemble.hash, entry.ensemble);
    return entry;
  }

  private entry(slot: Slot): RegistryEntry {
    // A file that does not load is listed under the name it was found by (the loader falls back to
    // the file name when it cannot read the file's own), so list() and get() agree.
    if (!slot.entry) {
      const loaded = this.load(slot.source);
      slot.entry = loaded.ensemble ? loaded : { ...loaded, name: slot.name };
    }
    if (slot.clash && !slot.entry.problems.some((p) => p.code === 'duplicate-ensemble')) {
      slot.entry = {
        ...slot.entry,
        ensemble: undefined,
        problems: [...slot.entry.problems, { file: slot.source.file, line: 1, column: 1, code: 'duplicate-ensemble', message: `ensemble '${slot.name}' is also defined in ${slot.clash}` }],
      };
    }
    return slot.entry;
  }

  /** Every ensemble with its problems (loads those not loaded yet). */
  list(): RegistryEntry[] {
    this.findClashes();
    return [...this.slots.values()].map((slot) => this.entry(slot));
  }

  private clashesFound = false;

  /**
   * A webhook path or a queue claimed by two ensembles would start two runs, or the wrong one: each
   * such ensemble does not load (found once all are loaded).
   */
  private findClashes(): void {
    if (this.clashesFound) return;
    this.clashesFound = true;
    const claims = new Map<string, Slot[]>();
    for (const slot of this.slots.values()) {
      for (const t of this.entry(slot).ensemble?.triggers ?? []) {
        const keys = t.type === 'webhook' ? [`webhook path ${t.path}`] : t.type === 'queue' ? [`queue '${t.queue}'`]
          : t.type === 'email' ? t.addresses.filter((a) => !a.includes('*')).map((a) => `address ${a.toLowerCase()}`) : [];
        for (const key of keys) claims.set(key, [...new Set([...(claims.get(key) ?? []), slot])]);
      }
    }
    for (const [key, slots] of claims) {
      if (slots.length < 2) continue;
      for (const slot of slots) {
        const others = slots.filter((o) => o !== slot).map((o) => o.source.file).join(', ');
        const e = slot.entry!;
        slot.entry = { ...e, ensemble: undefined, problems: [...e.problems, { file: slot.source.file, line: 1, column: 1, code: 'duplicate-ensemble', message: `the ${key} is also a trigger of ${others}: one ensemble per path, queue or address` }] };
      }
    }
  }

  /** Every loading ensemble with its triggers of one type (loads them all, once per isolate). */
  triggered<T extends Trigger['type']>(type: T): { ensemble: Ensemble; trigger: Extract<Trigger, { type: T }> }[] {
    this.findClashes();
    const out: { ensemble: Ensemble; trigger: Extract<Trigger, { type: T }> }[] = [];
    for (const slot of this.slots.values()) {
      const ensemble = this.entry(slot).ensemble;
      for (const t of ensemble?.triggers ?? []) if (t.type === type) out.push({ ensemble: ensemble!, trigger: t as Extract<Trigger, { type: T }> });
    }
    return out;
  }

  /**
   * How many files do not load (or repeat a name), for `GET /healthz`: from what the build
   * recorded where it can, so a fresh isolate does not load every ensemble to answer it.
   */
  invalidCount(): number {
    let n = 0;
    for (const slot of this.slots.values()) {
      if (slot.clash) n++;
      else if (slot.entry) n += slot.entry.ensemble ? 0 : 1;
      else if (slot.source.valid !== undefined) n += slot.source.valid ? 0 : 1;
      else n += this.entry(slot).ensemble ? 0 : 1;
    }
    return n;
  }

  /** The current definition of `name`; 404 when unknown, 422 with every problem when it does not load. */
  get(name: string): Ensemble {
    const slot = this.slots.get(name);
    if (!slot) throw new NotFoundError(`ensemble '${name}'`);
    let entry = this.entry(slot);
    // One whose path or queue another may also claim: known once all are loaded.
    if (entry.ensemble?.triggers?.some((t) => t.type === 'webhook' || t.type === 'queue')) {
      this.findClashes();
      entry = slot.entry!;
    }
    if (!entry.ensemble) throw new EnsembleInvalidError(name, entry.problems);
    return entry.ensemble;
  }

  /** The definition a stored run started on: compiled from its own source when it changed since. */
  fromSource(file: SourceFile & { hash: string; library?: LibraryFile[] }): Ensemble {
    return this.byHash.get(file.hash) ?? compileDefinition(file, this.scripts, this.kinds);
  }
}

// Definitions of runs under way, by hash, once per isolate: a resumed run compiles only its own.
const compiled = new Map<string, Ensemble>();

/**
 * The definition a stored run started on, compiled from its own source alone (never from the
 * registry of ensembles/, which a bad file or a deploy may have changed). Cached by hash.
 */
export function compileDefinition(file: SourceFile & { hash: string; library?: LibraryFile[] }, scripts: ScriptRegistry, kinds: StepKinds): Ensemble {
  const cached = compiled.get(file.hash);
  if (cached) return cached;
  const scriptKeys = new Set(Object.keys(scripts));
  // Only the library files it used, as they were when it started.
  const library = file.library?.length ? new Library(file.library, { kinds, scripts: scriptKeys }) : undefined;
  const { library: _, ...source } = file;
  const result = loadEnsemble(source, { kinds, scripts: scriptKeys, library });
  if (!result.ok) throw new EnsembleInvalidError(result.name, result.problems);
  const ensemble = { ...result.ensemble, hash: file.hash };
  if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!);
  compiled.set(file.hash, ensemble);
  return ensemble;
}

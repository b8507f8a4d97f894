import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { Problem } from '../ensemble/problem';
import { SourceLocator } from '../ensemble/locate';
import { liftExpressions, restoreValue } from '../ensemble/lift';
import { plainIssue, valueAt } from '../ensemble/issue-words';
import { didYouMean, suggest } from '../ensemble/suggest';
import { StepName } from '../ensemble/schema';
import { depthOf, LIMITS } from '../limits';
import type { StepKinds } from '../runtime/step-kind';
import { compareVersions, parseRef, sameVersion, type Ref } from './versions';

// The project's library: agents defined once in agents/ and prompt or config components in
// prompts/, found at build time (tools/gen-registry.mjs) and used by name from any ensemble
// (`agent: review@2`, `prompt://triage@1`). Each file is checked here, on its own, with
// file:line:col; an ensemble that uses one resolves it through `agent()` / `component()`.

/** A file of agents/ or prompts/ as the build found it. */
export interface LibraryFile {
  file: string;
  source: string;
  hash: string;
}

/** An agent definition: what a step `agent: <name>` stands for. */
export interface AgentDefinition {
  name: string;
  version?: string;
  description?: string;
  file: string;
  /** The step keys it gives (`operation`, `config`, ...), the handler made `config.script`. */
  step: Record<string, unknown>;
  schema?: { input?: unknown; output?: unknown };
}

/** A prompt (text) or config (value) component. */
export interface Component {
  name: string;
  version?: string;
  file: string;
  /** Text (a `.md` prompt) or any YAML value (a `.yaml` component). */
  value: unknown;
}

/** How a reference resolved: the thing, or why not (a message naming what exists). */
export type Resolved<T> = { found: T } | { problem: string };

const AgentFile = z.strictObject({
  name: StepName.optional().describe('the name steps use (`agent: <name>`); defaults to the file or folder name'),
  version: z.union([z.string().min(1), z.number()]).optional().describe('this definition\'s version (`agent: <name>@<version>`)'),
  description: z.string().optional(),
  operation: z.string().optional().describe('what it does: an operation (code, http, think, ...)'),
  agent: z.string().optional().describe('or a built-in agent it configures (hitl)'),
  config: z.record(z.string(), z.unknown()).optional(),
  handler: z.string().optional().describe('code agents: the module next to this file (default index.ts)'),
  prompt: z.string().optional().describe("conductor's spelling of a think agent's `config.prompt`"),
  schema: z.strictObject({ input: z.unknown().optional(), output: z.unknown().optional() }).optional().describe('documentation of its input and output (shown by GET /agents)'),
  retry: z.unknown().optional(),
  timeout: z.unknown().optional(),
  onTimeout: z.unknown().optional(),
  cache: z.unknown().optional(),
  onError: z.unknown().optional(),
});

/** Conductor's agent keys this runtime refuses, each with the reason. */
const UNSUPPORTED_AGENT_KEYS: Record<string, string> = {
  logging: 'every step is logged as a structured JSON line (Workers Logs); secrets are redacted by the runtime',
  metrics: 'durations are in each step record (GET /executions/:id) and the logs',
  security: 'outbound requests are the http operation\'s, whose destination is fixed in the file when it uses a secret',
  operations: 'an agent is one operation; write several steps (or a sequence) in the ensemble',
};

const ComponentFile = z.strictObject({
  name: StepName.optional(),
  version: z.union([z.string().min(1), z.number()]).optional(),
  description: z.string().optional(),
  /** A prompt written in YAML. */
  template: z.string().optional(),
  /** A config component: any value. */
  value: z.unknown().optional(),
  config: z.unknown().optional(),
});

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;

/** Where a file sits: its name and version from the path (`agents/review/agent.yaml`, `prompts/triage/v2.md`). */
function fromPath(file: string, root: 'agents' | 'prompts' | 'configs'): { name: string; version?: string; dir: string } {
  const rel = file.replace(/\\/g, '/').replace(new RegExp(`^(.*/)?${root}/`), '');
  const parts = rel.split('/');
  const base = parts.at(-1)!.replace(/\.(ya?ml|md|txt)$/i, '');
  const dir = file.replace(/\\/g, '/').replace(/[^/]*$/, '');
  if (parts.length === 1) return { name: base, dir };
  // agents/<name>/agent.yaml; prompts/<name>/<version>.md; agents/<name>/<version>.yaml
  const name = parts.at(-2)!;
  if (base === 'agent' || base === 'index' || base === 'prompt') return { name, dir };
  return { name, version: base, dir };
}

export interface LibraryContext {
  kinds: StepKinds;
  /** Script keys (`auto-approve`, `agents/greet/index`): a code agent's handler must be one. */
  scripts: ReadonlySet<string>;
}

/**
 * The agents and components of a project, each file checked on its own. Lookups return the
 * definition a reference names, with the version chosen (`@latest`, or none: the highest).
 */
export class Library {
  readonly problems: Problem[] = [];
  private readonly agentsByName = new Map<string, AgentDefinition[]>();
  private readonly componentsByName = new Map<string, Component[]>();
  /** Files that do not load, by `agent <name>` / `component <name>` (the name their path gives). */
  private readonly broken = new Map<string, string>();
  /** Every file, by path, so a run can keep the ones it used. */
  readonly files = new Map<string, LibraryFile>();

  constructor(files: readonly LibraryFile[], private readonly ctx: LibraryContext) {
    for (const f of files.slice(0, LIMITS.libraryFiles)) {
      this.files.set(f.file, f);
      if (f.source.length > LIMITS.ensembleFileBytes) {
        this.problem(f.file, 1, 1, `the file is ${f.source.length} characters long (limit ${LIMITS.ensembleFileBytes})`);
        continue;
      }
      try {
        const before = this.problems.length;
        const agent = /(^|\/)agents\//.test(f.file.replace(/\\/g, '/'));
        if (agent) this.addAgent(f);
        else this.addComponent(f);
        if (this.problems.length > before) this.broken.set(`${agent ? 'agent' : 'component'} ${fromPath(f.file, agent ? 'agents' : /(^|\/)configs\//.test(f.file) ? 'configs' : 'prompts').name}`, f.file);
      } catch (e) {
        this.problem(f.file, 1, 1, `could not be loaded: ${e instanceof RangeError ? 'nested too deeply' : e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (files.length > LIMITS.libraryFiles) this.problem(files[LIMITS.libraryFiles]!.file, 1, 1, `the library has ${files.length} files (limit ${LIMITS.libraryFiles}); the rest were not read`);
    for (const [name, list] of [...this.agentsByName, ...this.componentsByName]) this.checkVersions(name, list);
  }

  private problem(file: string, line: number, column: number, message: string, code: Problem['code'] = 'schema') {
    this.problems.push({ file, line, column, code, message });
  }

  /** A YAML file read with positions: its value, and a reporter at a path. */
  private readYaml(f: LibraryFile, text: string, lineOffset = 0): { value: unknown; at: (path: (string | number)[], message: string, key?: boolean) => void } | undefined {
    const lines = new LineCounter();
    const lifted = liftExpressions(text);
    const doc = parseDocument(lifted.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
    const locator = new SourceLocator(doc, lines, lifted.offsets, lifted.restore);
    const at = (path: (string | number)[], message: string, key = false) => {
      const pos = locator.position(locator.offsetOf(path, key));
      this.problem(f.file, pos.line + lineOffset, pos.column, message);
    };
    if (doc.errors.length > 0) {
      for (const e of doc.errors.slice(0, 5)) {
        const pos = lines.linePos(e.pos[0]);
        this.problem(f.file, pos.line + lineOffset, pos.col, `YAML: ${e.message.split('\n')[0]}`, 'yaml');
      }
      return undefined;
    }
    const js = doc.toJS({ maxAliasCount: LIMITS.yamlAliases });
    if (depthOf(js, LIMITS.yamlDepth) > LIMITS.yamlDepth) {
      this.problem(f.file, 1 + lineOffset, 1, `values are nested more than ${LIMITS.yamlDepth} levels deep`, 'yaml');
      return undefined;
    }
    return { value: restoreValue(js ?? null, lifted.restore), at };
  }

  private addAgent(f: LibraryFile): void {
    const read = this.readYaml(f, f.source);
    if (!read) return;
    const raw = read.value;
    if (!isObject(raw)) {
      read.at([], 'an agent definition is a mapping with `operation:` (or `agent:`) and `config:`');
      return;
    }
    for (const [k, why] of Object.entries(UNSUPPORTED_AGENT_KEYS)) {
      if (k in raw) {
        read.at([k], `'${k}:' is a conductor key this runtime does not support: ${why}`, true);
        delete raw[k];
      }
    }
    const parsed = AgentFile.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys') for (const k of issue.keys) read.at([k], `unknown key '${k}' in an agent definition${didYouMean(k, Object.keys(AgentFile.shape))}`, true);
        else read.at(issue.path as (string | number)[], plainIssue(issue, valueAt(raw, issue.path)));
      }
      return;
    }
    const def = parsed.data;
    const place = fromPath(f.file, 'agents');
    const name = def.name ?? place.name;
    if (!StepName.safeParse(name).success) {
      read.at([], `the file's name gives this agent the name '${name.slice(0, 60)}', which cannot name an agent (letters, digits, _ and -): write \`name:\``);
      return;
    }
    const version = def.version !== undefined ? String(def.version) : place.version;
    if ((def.operation === undefined) === (def.agent === undefined)) {
      read.at([], 'an agent definition needs exactly one of `operation` or `agent`');
      return;
    }
    const key = def.operation !== undefined ? 'operation' : 'agent';
    const kindName = (def.operation ?? def.agent)!;
    const kind = Object.hasOwn(this.ctx.kinds, kindName) ? this.ctx.kinds[kindName] : undefined;
    if (!kind || kind.key !== key) {
      const names = Object.entries(this.ctx.kinds).filter(([, k]) => k.key === key).map(([n]) => n);
      const close = suggest(kindName, names);
      read.at([key], `unknown ${key} '${kindName}'${close ? ` — did you mean '${close}'?` : ` (expected one of: ${names.join(', ')})`}`);
      return;
    }
    const builtIn = Object.entries(this.ctx.kinds).find(([n, k]) => k.key === 'agent' && n === name);
    if (builtIn) {
      read.at(def.name !== undefined ? ['name'] : [], `'${name}' is a built-in agent, which a step \`agent: ${name}\` always means: give this definition another name`);
      return;
    }
    const config: Record<string, unknown> = { ...(def.config ?? {}) };
    if (def.prompt !== undefined) {
      if (config.prompt !== undefined) {
        read.at(['prompt'], '`prompt` is written twice (here and in `config`): keep one', true);
        return;
      }
      config.prompt = def.prompt;
    }
    if (kindName === 'code' && config.script === undefined) {
      // A code agent's handler: the module next to its definition (default index.ts).
      const handler = (def.handler ?? 'index.ts').replace(/^\.\//, '').replace(/\.(m?[jt]s)$/, '');
      const key = `${place.dir}${handler}`.replace(/^(.*\/)?(agents\/)/, '$2');
      if (!this.ctx.scripts.has(key)) {
        read.at(def.handler !== undefined ? ['handler'] : [], `the handler module ${key}.ts does not exist (a code agent's handler sits next to its definition; default index.ts)`);
        return;
      }
      config.script = key;
    } else if (def.handler !== undefined) {
      read.at(['handler'], '`handler` is for code agents (`operation: code`)', true);
      return;
    }
    // The kind's own checks of the config's static part (keys with `${...}` are judged when used).
    const dynamic = Object.keys(config).filter((k) => JSON.stringify(config[k] ?? null).includes('${'));
    const staticConfig = Object.fromEntries(Object.entries(config).filter(([k]) => !dynamic.includes(k)));
    const found = kind.check({ kind: kindName, config: staticConfig, dynamicConfig: dynamic, input: {}, written: { config, input: undefined } }, { scripts: this.ctx.scripts })
      .filter((p) => p.path[0] !== 'inputs' && p.path[0] !== 'input');
    if (found.length) {
      for (const p of found) {
        const path = p.path[0] === 'config' ? p.path : ['config', ...p.path];
        read.at(def.prompt !== undefined && path[1] === 'prompt' ? ['prompt'] : path, p.message, p.atKey);
      }
      return;
    }
    const step: Record<string, unknown> = { [key]: kindName, config };
    for (const k of ['retry', 'timeout', 'onTimeout', 'cache', 'onError'] as const) if (def[k] !== undefined) step[k] = def[k];
    const list = this.agentsByName.get(name) ?? [];
    list.push({ name, version, description: def.description, file: f.file, step, schema: def.schema });
    this.agentsByName.set(name, list);
  }

  private addComponent(f: LibraryFile): void {
    if (/(^|\/)configs\//.test(f.file)) {
      // Conductor's config components: the whole file is the value (`component: <name>@<version>`).
      const read = this.readYaml(f, f.source);
      if (!read) return;
      const place = fromPath(f.file, 'configs');
      this.addComponentEntry({ name: place.name, version: place.version, file: f.file, value: read.value });
      return;
    }
    const place = fromPath(f.file, 'prompts');
    if (/\.(md|txt)$/i.test(f.file)) {
      // A prompt: text, with optional YAML front matter (`version:`, `name:`, `description:`).
      const fm = FRONT_MATTER.exec(f.source);
      let meta: Record<string, unknown> = {};
      if (fm) {
        const read = this.readYaml(f, fm[1]!, 1);
        if (!read) return;
        if (read.value !== null && !isObject(read.value)) {
          read.at([], 'front matter is a mapping (`version: 2`)');
          return;
        }
        meta = (read.value as Record<string, unknown> | null) ?? {};
        const parsed = ComponentFile.pick({ name: true, version: true, description: true }).strict().safeParse(meta);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) {
            if (issue.code === 'unrecognized_keys') for (const k of issue.keys) read.at([k], `unknown front matter key '${k}' (a prompt takes name, version, description)`, true);
            else read.at(issue.path as (string | number)[], plainIssue(issue, valueAt(meta, issue.path)));
          }
          return;
        }
      }
      // The file's last line break is the file's, not the prompt's.
      const text = (fm ? f.source.slice(fm[0].length) : f.source).replace(/\r?\n$/, '');
      this.addComponentEntry({ name: typeof meta.name === 'string' ? meta.name : place.name, version: meta.version !== undefined ? String(meta.version) : place.version, file: f.file, value: text });
      return;
    }
    const read = this.readYaml(f, f.source);
    if (!read) return;
    const raw = read.value;
    if (!isObject(raw)) {
      read.at([], 'a component file is a mapping: `template:` (a prompt) or `value:` / `config:` (a config component), with optional `name:` and `version:`');
      return;
    }
    const parsed = ComponentFile.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys') for (const k of issue.keys) read.at([k], `unknown key '${k}' in a component${didYouMean(k, Object.keys(ComponentFile.shape))}`, true);
        else read.at(issue.path as (string | number)[], plainIssue(issue, valueAt(raw, issue.path)));
      }
      return;
    }
    const c = parsed.data;
    const given = [c.template, c.value, c.config].filter((v) => v !== undefined).length;
    if (given !== 1) {
      read.at([], 'a component has exactly one of `template:` (a prompt), `value:` or `config:` (a config component)');
      return;
    }
    this.addComponentEntry({ name: c.name ?? place.name, version: c.version !== undefined ? String(c.version) : place.version, file: f.file, value: c.template ?? c.value ?? c.config });
  }

  private addComponentEntry(c: Component) {
    if (!StepName.safeParse(c.name).success) {
      this.problem(c.file, 1, 1, `'${c.name.slice(0, 60)}' cannot name a component (letters, digits, _ and -)`);
      return;
    }
    const list = this.componentsByName.get(c.name) ?? [];
    list.push(c);
    this.componentsByName.set(c.name, list);
  }

  /** Two files giving one name the same version (or none) are one problem. */
  private checkVersions(name: string, list: { version?: string; file: string }[]) {
    list.sort((a, b) => compareVersions(a.version, b.version));
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      if (sameVersion(a.version, b.version)) {
        this.problem(b.file, 1, 1, `'${name}'${b.version === undefined ? ' (no version)' : `@${b.version}`} is also defined in ${a.file}: give each file its own \`version:\``);
      }
    }
  }

  /** The agent `ref` names (`review`, `review@2`, `review@latest`); undefined when no agent has that name. */
  agent(ref: string): Resolved<AgentDefinition> | undefined {
    return this.resolve(parseRef(ref), this.agentsByName, 'agent');
  }

  /** The component `ref` names; undefined when none has that name. */
  component(ref: string): Resolved<Component> | undefined {
    return this.resolve(parseRef(ref), this.componentsByName, 'component');
  }

  private resolve<T extends { version?: string }>(ref: Ref, map: Map<string, T[]>, what: string): Resolved<T> | undefined {
    const list = map.get(ref.name);
    if (!list || list.length === 0) {
      const file = this.broken.get(`${what} ${ref.name}`);
      return file ? { problem: `${what} '${ref.name}' is defined in ${file}, which does not load (npm run validate says why)` } : undefined;
    }
    if (ref.version === undefined || ref.version === 'latest') return { found: list.at(-1)! };
    const found = list.find((d) => sameVersion(d.version, ref.version));
    if (found) return { found };
    const versions = list.map((d) => d.version ?? '(no version)').join(', ');
    return { problem: `${what} '${ref.name}' has no version '${ref.version}' (versions: ${versions})` };
  }

  agentNames(): string[] {
    return [...this.agentsByName.keys()];
  }

  componentNames(): string[] {
    return [...this.componentsByName.keys()];
  }

  /** Every agent definition, every version, for `GET /agents`. */
  agents(): AgentDefinition[] {
    return [...this.agentsByName.values()].flat();
  }

  /** Every component, every version. */
  components(): Component[] {
    return [...this.componentsByName.values()].flat();
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

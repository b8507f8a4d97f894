import type { Path } from '../expression/template';
import { LIMITS } from '../limits';
import type { PathPart } from './ensemble';
import { childKeys, nodeTypes, type NodeType } from './nodes';
import { didYouMean, suggest } from './suggest';
import type { Library } from '../library/library';
import { parseRef } from '../library/versions';

// The first pass over an ensemble's body: every node of the tree (steps and control nodes), in the
// order of the file, with where it sits. The loader compiles each from here; the rules of what a
// node may read (`${name...}`) are decided on these entries.

export interface Entry {
  raw: Record<string, unknown>;
  /** Where it is in the file (`['agents', 2, 'steps', 0]`). */
  at: Path;
  /** `step`, a control node's type, or undefined when the type is unknown (reported). */
  type: 'step' | NodeType | undefined;
  name?: string;
  /**
   * Its segment of a run-time path: its name, or `<type>.<position>` when a control node has none
   * (`catch.<type>.<position>` and `finally.…` in a try, whose lists share one frame). A name
   * cannot hold a `.`, so a generated segment never equals a name.
   */
  segment: string;
  /** The library agent it runs, with the version chosen (`review@2`). */
  uses?: string;
  /** A use of a definition of the file: where the definition is, and the keys the use writes itself. */
  definedAt?: { at: Path; own: ReadonlySet<string>; ownConfig: ReadonlySet<string> };
  /** Position in the file, for "runs after" and reading order. */
  order: number;
  parent?: Entry;
  /** The key of the parent's child list it is in (`steps`, `then`, `cases`), and the case's name. */
  list?: string;
  caseKey?: string;
  /** Its position in that list (each entry of a parallel's `steps` is one branch). */
  position: number;
  /** Child lists, by key (for `cases`: one list per case, keyed `cases.<case>`). */
  children: Map<string, Entry[]>;
  depth: number;
}

/** What stands for conductor's inline code in a step's config once reported (src/operations/code.ts knows it). */
export const INLINE_CODE = '(inline code, not run)';

export type Report = (at: Path, atKey: boolean, message: string, code?: 'schema' | 'reference' | 'unknown-operation') => void;

/** Child lists whose nodes run once per item or iteration: their paths carry the index. */
export const looped = (type: Entry['type'], list: string | undefined) =>
  (type === 'foreach' && (list === 'step' || list === 'steps')) || (type === 'while' && list === 'steps') || (type === 'map-reduce' && list === 'map');

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every node of the body, in file order. Problems of shape (unknown type, depth, empty lists) are reported. */
export function collectTree(body: unknown[], at: Path, report: Report, lookup: AgentLookup): Entry[] {
  const entries: Entry[] = [];
  let tooMany = false;
  // `using`: the definitions whose bodies enclose this list (a definition may not run itself).
  const walk = (items: unknown, where: Path, parent: Entry | undefined, list: string | undefined, caseKey: string | undefined, using: readonly string[]): Entry[] => {
    // A child list may be one node written as a mapping.
    const nodes = Array.isArray(items) ? items : [items];
    const out: Entry[] = [];
    nodes.forEach((item, position) => {
      const here = Array.isArray(items) ? [...where, position] : where;
      if (!isObject(item)) {
        report(here, false, 'a step or a control node is a mapping (`- name: ...`)');
        return;
      }
      // Definitions used inside each other multiply: the tree has a size limit, said once.
      if (entries.length >= LIMITS.treeNodes) {
        if (!tooMany) report(here, false, `the flow has more than ${LIMITS.treeNodes} steps and control nodes from here on (definitions used inside each other multiply): make it smaller, or split it into ensembles`);
        tooMany = true;
        return;
      }
      const resolved = fromDefinition(item, lookup, here, report, using);
      if (!resolved) {
        lookup.dropped = (lookup.dropped ?? 0) + 1;
        return;
      }
      const raw = stepDialect(resolved.raw, here, report);
      const inside = resolved.definition ? [...using, resolved.definition] : using;
      const depth = (parent?.depth ?? 0) + (parent && parent.type !== 'step' ? 1 : 0);
      const written = raw.type;
      let type: Entry['type'] = 'step';
      if (written !== undefined) {
        const known = typeof written === 'string' && (nodeTypes as readonly string[]).includes(written);
        type = known ? (written as NodeType) : undefined;
        if (!known) {
          const close = typeof written === 'string' ? suggest(written, nodeTypes) : undefined;
          report([...here, 'type'], false, `unknown node type '${String(written)}'${close ? ` — did you mean '${close}'?` : ` (expected one of: ${nodeTypes.join(', ')})`}`);
        }
      }
      const name = typeof raw.name === 'string' ? raw.name : undefined;
      const entry: Entry = {
        raw, at: here, type, name, ...(resolved.uses ? { uses: resolved.uses } : {}),
        ...(resolved.definition && lookup.local?.get(resolved.definition) ? { definedAt: { at: lookup.local.get(resolved.definition)!.at, own: new Set(Object.keys(item)), ownConfig: new Set(isObject(item.config) ? Object.keys(item.config) : []) } } : {}),
        segment: name ?? `${list === 'catch' || list === 'finally' ? `${list}.` : ''}${type ?? 'node'}.${position + 1}`, order: entries.length,
        parent, list, caseKey, position, children: new Map(), depth,
      };
      entries.push(entry);
      out.push(entry);
      if (type === 'step' || type === undefined) return;
      if (depth + 1 > LIMITS.nestingDepth) {
        report(here, false, `control nodes are nested more than ${LIMITS.nestingDepth} deep here: flatten the flow, or move part of it to an ensemble of its own`);
        return;
      }
      for (const key of childKeys[type]) {
        const value = raw[key];
        if (value === undefined) continue;
        if (type === 'switch' && key === 'cases') {
          if (!isObject(value)) continue;
          for (const [c, list] of Object.entries(value)) entry.children.set(`cases.${c}`, walk(list, [...here, 'cases', c], entry, 'cases', c, inside));
          continue;
        }
        if (!Array.isArray(value) && !isObject(value)) continue;
        entry.children.set(key, walk(value, [...here, key], entry, key, undefined, inside));
      }
    });
    return out;
  };
  walk(body, at, undefined, undefined, undefined, []);
  return entries;
}

/** Where `agent: <name>` is looked up: the file's own definitions (with `flow:`), built-in agents, the library. */
export interface AgentLookup {
  /** Definitions of this file (`agents:` when the file has a `flow:`). */
  local?: ReadonlyMap<string, { raw: Record<string, unknown>; at: Path }>;
  /** Names of built-in agents (`hitl`): they always mean the built-in. */
  builtIn: ReadonlySet<string>;
  library?: Pick<Library, 'agent' | 'agentNames'>;
  /** Library files used, filled in as references resolve. */
  used: Set<string>;
  /** Entries that could not be resolved (reported): their names are unknown, not missing. */
  dropped?: number;
}

/**
 * An entry that runs a definition (`agent: review`, `agent: review@2`; with `id:` to name this
 * use, `input:`, `condition:`, and `config:` merged over the definition's) as the step it stands
 * for: one of the file's definitions, else the library's. Undefined when it cannot be resolved
 * (reported).
 */
function fromDefinition(entry: Record<string, unknown>, lookup: AgentLookup, at: Path, report: Report, using: readonly string[]): { raw: Record<string, unknown>; definition?: string; uses?: string } | undefined {
  if (entry.type !== undefined || typeof entry.agent !== 'string') return { raw: entry };
  const ref = entry.agent;
  const name = parseRef(ref).name;
  const { agent, id, config, ...rest } = entry;
  const useName = typeof id === 'string' ? id : typeof rest.name === 'string' ? rest.name : name;
  // Built-in agents always mean the built-in: a definition may not take the name of the gate.
  if (lookup.builtIn.has(ref)) {
    if (lookup.local?.has(ref)) report(lookup.local.get(ref)!.at.concat('name'), false, `'${ref}' is a built-in agent, which \`agent: ${ref}\` always means: give this definition another name`, 'reference');
    return { raw: entry };
  }
  if (config !== undefined && !isObject(config) && (lookup.local?.has(ref) || lookup.library?.agent(ref))) {
    report([...at, 'config'], false, "a use's `config` is a mapping, merged over the definition's (it cannot be one expression)", 'schema');
    return undefined;
  }
  const merged = (def: Record<string, unknown>) => {
    const defConfig = isObject(def.config) ? def.config : {};
    return { ...def, ...rest, name: useName, ...(isObject(config) ? { config: { ...defConfig, ...config } } : {}) };
  };
  const local = lookup.local?.get(ref);
  if (local) {
    if (using.includes(ref)) {
      const chain = [...using.slice(using.indexOf(ref)), ref].join(' → ');
      report([...at, 'agent'], false, `agent '${ref}' runs itself (${chain}): a definition cannot contain itself; use a while or a foreach to repeat`, 'reference');
      return undefined;
    }
    const raw = merged(local.raw);
    // A definition that is itself a use of a library agent (`- name: review` / `agent: summarize@2`).
    if (typeof local.raw.agent === 'string' && local.raw.type === undefined && !lookup.builtIn.has(local.raw.agent) && !lookup.local?.has(local.raw.agent)) {
      const inner = fromDefinition({ ...raw, agent: local.raw.agent, id: useName }, lookup, at, report, [...using, ref]);
      return inner && { ...inner, definition: ref };
    }
    return { raw, definition: ref };
  }
  const found = lookup.library?.agent(ref);
  if (found && 'found' in found) {
    const def = found.found;
    lookup.used.add(def.file);
    return { raw: merged(def.step), uses: `${def.name}${def.version !== undefined ? `@${def.version}` : ''}` };
  }
  if (found) {
    report([...at, 'agent'], false, found.problem, 'reference');
    return undefined;
  }
  const known = [...(lookup.local?.keys() ?? []), ...(lookup.library?.agentNames() ?? [])];
  const close = suggest(name, [...known, ...lookup.builtIn]);
  const where = [lookup.local ? 'not defined in agents:' : undefined, lookup.library ? 'not in agents/' : undefined, `not a built-in agent (${[...lookup.builtIn].join(', ')})`].filter(Boolean).join(', ');
  const whereClose = close && lookup.local?.has(close) ? ' (defined in agents:)' : close && !lookup.builtIn.has(close) ? ' (in agents/)' : '';
  report([...at, 'agent'], false, `unknown agent '${ref}'${close ? ` — did you mean '${close}'?${whereClose}` : ` (${where})`}`, 'reference');
  return undefined;
}

/**
 * Conductor's spellings of a step, accepted as ours: `operation: hitl` is `agent: hitl`, `when:` is
 * `condition:`, a think step's `prompt:` written beside its config is `config.prompt`. `member:`
 * (its old name for an agent) is one problem.
 */
function stepDialect(raw: Record<string, unknown>, at: Path, report: Report): Record<string, unknown> {
  let out = raw;
  if ('when' in out && out.type === undefined) {
    if ('condition' in out) {
      report([...at, 'when'], true, '`when` and `condition` say the same: keep one');
      const { when: _, ...rest } = out;
      out = rest;
    } else {
      const { when, ...rest } = out;
      out = { ...rest, condition: when };
    }
  }
  if (out.operation === 'code' && isObject(out.config) && ('code' in out.config || 'inline' in out.config)) {
    // Conductor's inline JavaScript: never evaluated here (no code from text), and its own `${...}`
    // template literals are not ours to read.
    const key = 'code' in out.config ? 'code' : 'inline';
    report([...at, 'config', key], true, `code written in YAML (\`config.${key}\`) is not run here: nothing is evaluated from text; put it in a module of scripts/ (\`script:\`) or a library agent's handler`);
    // The code itself is kept out of reach (its text is not compiled); the step is checked no further.
    const { code: _c, inline: _i, ...config } = out.config;
    out = { ...out, config: { ...config, [key]: INLINE_CODE } };
  }
  if ('member' in out) {
    report([...at, 'member'], true, "'member:' is conductor's old name for an agent: write `agent:`");
    const { member: _, ...rest } = out;
    out = rest;
  }
  if (out.operation === 'think' && typeof out.prompt === 'string') {
    const config = isObject(out.config) ? out.config : {};
    if (out.config !== undefined && !isObject(out.config)) report([...at, 'prompt'], true, '`prompt` beside a `config` written as one expression: put the prompt in the config');
    else if ('prompt' in config) report([...at, 'prompt'], true, '`prompt` is written twice (here and in `config`): keep one');
    else {
      const { prompt, ...rest } = out;
      out = { ...rest, config: { ...config, prompt } };
    }
  }
  if (out.type !== undefined || out.operation !== 'hitl') return out;
  if (out.agent === 'hitl') report([...at, 'operation'], true, "'operation: hitl' and 'agent: hitl' say the same: keep one");
  if (out.agent !== undefined && out.agent !== 'hitl') return out;
  const { operation: _, ...rest } = out;
  return { ...rest, agent: 'hitl' };
}

/** The nodes around `e`, outermost first. */
export function ancestors(e: Entry): Entry[] {
  const out: Entry[] = [];
  for (let p = e.parent; p; p = p.parent) out.unshift(p);
  return out;
}

/** The child of `ancestor` on the way down to `e` (`e` itself when it is a direct child). */
function childOn(ancestor: Entry, e: Entry): Entry | undefined {
  let c: Entry | undefined = e;
  while (c && c.parent !== ancestor) c = c.parent;
  return c;
}

/**
 * `e`'s path as parts: one per node around it and itself, each marked with the loop whose index
 * follows it when the way down goes through a looped list.
 */
export function partsOf(e: Entry): PathPart[] {
  const around = ancestors(e);
  return [...around.map((a) => {
    const child = childOn(a, e)!;
    return looped(a.type, child.list) ? { segment: a.segment, loop: idOf(a) } : { segment: a.segment };
  }), { segment: e.segment }];
}

/** The loops (by id) whose index a path to `e` carries, outermost first. */
export function loopsOf(e: Entry): string[] {
  return partsOf(e).filter((p) => p.loop).map((p) => p.loop!);
}

export const idOf = (e: Entry) => e.at.join('.');

/**
 * Whether `target` has run (or may have) when `reader` runs, so that `${target...}` reads it:
 * undefined when it may be read, else why not. Inside a `while`, a body node may read any node of
 * the same body (a later one gives the previous iteration's result).
 */
export function cannotRead(target: Entry, reader: Entry, field?: string): string | undefined {
  const readerAround = ancestors(reader);
  const targetAround = ancestors(target);
  // A loop's own expressions that are evaluated inside it (a foreach's `breakWhen` after each item,
  // a while's `condition` before each iteration) read its body as of that iteration.
  const inside = field !== undefined && ((reader.type === 'foreach' && field === 'breakWhen') || (reader.type === 'while' && field === 'condition'));
  // ... but not a step inside a loop nested in that body: that loop's iterations are its own.
  if (inside && targetAround.includes(reader)) return insideLoop(target, targetAround, [...loopsOf(reader), idOf(reader)]);
  const inWhile = readerAround.some((a) => a.type === 'while');
  // A while body step may read its own previous iteration.
  if (target === reader) return inWhile ? undefined : 'cannot read its own result';
  if (readerAround.includes(target)) return `is around '${reader.name ?? reader.segment}' and has not finished when it runs: read its steps instead`;
  // A node inside a loop is readable only inside the same iteration (or the loop's output outside).
  const outside = insideLoop(target, targetAround, loopsOf(reader));
  if (outside) return outside;
  // The nearest node around both: branches of a parallel run side by side.
  const common = readerAround.filter((a) => targetAround.includes(a)).at(-1);
  if (common?.type === 'parallel' && childOn(common, target) !== childOn(common, reader)) {
    return `runs at the same time as '${reader.name ?? reader.segment}' (both are branches of parallel '${common.name ?? common.segment}')`;
  }
  if (target.order < reader.order) return undefined;
  const whileAround = readerAround.find((a) => a.type === 'while' && targetAround.includes(a));
  if (whileAround) return undefined;
  return `runs after '${reader.name ?? reader.segment}': only earlier steps can be referenced`;
}

/** Why `target` cannot be read by a reader whose path carries the indices of `loops` (if it is inside another loop). */
function insideLoop(target: Entry, targetAround: Entry[], loops: string[]): string | undefined {
  const foreign = loopsOf(target).find((l) => !loops.includes(l));
  if (foreign === undefined) return undefined;
  const loop = targetAround.find((a) => idOf(a) === foreign)!;
  return `is inside ${loop.type} '${loop.name ?? loop.segment}': outside it, read the loop's output${loop.name ? ` (\`\${${loop.name}.output}\`)` : ' (name the loop)'}`;
}

/** The frame variables a node may read where it sits: `item`/`index` in a loop, `error` in catch, `results` in reduce. */
export function variablesOf(e: Entry, field?: string): Set<string> {
  const vars = new Set<string>();
  const add = (a: Entry, list: string | undefined) => {
    if ((a.type === 'foreach' && (list === 'step' || list === 'steps' || list === 'breakWhen')) || (a.type === 'map-reduce' && list === 'map')) { vars.add('item'); vars.add('index'); }
    if (a.type === 'while' && list === 'steps') vars.add('index');
    if (a.type === 'try' && list === 'catch') vars.add('error');
    if (a.type === 'map-reduce' && list === 'reduce') vars.add('results');
  };
  for (const a of ancestors(e)) add(a, childOn(a, e)!.list);
  // A node's own expression fields: a foreach's `breakWhen` sees the item it follows.
  if (field) add(e, field);
  return vars;
}

/** Where to point a problem about an unknown key of a control node, with the key meant. */
export function unknownNodeKey(type: NodeType, key: string, known: string[]): string {
  return `unknown key '${key}' for a ${type} node${didYouMean(key, known)}`;
}

import type { z } from 'zod';
import { forEachExpression, isStatic, type Path, type Template } from '../expression/template';
import type { StepKind, StepKinds } from '../runtime/step-kind';
import { stepViewFields } from '../runtime/context';
import { LIMITS } from '../limits';
import { parseDuration, DurationError } from './duration';
import { didYouMean, suggest } from './suggest';
import { plainIssue, valueAt } from './issue-words';
import type { SourceLocator } from './locate';
import { Step, type StepFile } from './schema';
import { nodeSchemas, childKeys, type NodeType } from './nodes';
import { partsOf, loopsOf, idOf, type Entry } from './load-tree';
import { scopeRoots, type CompiledNode, type CompiledStep, type ControlNode, type Ensemble, type NodePlace } from './ensemble';
import type { ProblemCode } from './problem';
import type { Library } from '../library/library';
import { resolveComponents, type ComponentUse } from '../library/components';

// The second pass of loading: each node of the tree compiled (its expressions, its kind's checks,
// what it reads), then the tree put together. Problems are reported, never thrown.

type Report = (offset: number, code: ProblemCode, message: string) => void;

/** What compiling a node needs from the loader. */
export interface NodeCompile {
  compile: (value: unknown, path: Path) => Template;
  refsOf: (e: Entry, field?: string) => RefScope;
  report: Report;
  locator: SourceLocator;
  checkSecrets: (t: Template, path: Path, what: string) => void;
}

export interface StepCompile extends NodeCompile {
  options: { kinds: StepKinds; scripts: ReadonlySet<string>; publicEnv?: ReadonlySet<string>; library?: Library };
  /** Library files used (components add theirs). */
  used: Set<string>;
  hyphenated: readonly string[];
  checkSecretsOfKind: (kind: StepKind | undefined, config: Template, at: Path) => void;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function valid<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  const r = schema.safeParse(value);
  return r.success ? r.data : undefined;
}

/** A step: its expressions, what it reads, its kind's checks. */
export function compileStep(step: StepFile, e: Entry, c: StepCompile): CompiledStep {
  const at = e.at;
  const inputKey = step.inputs !== undefined ? 'inputs' : 'input';
  const condition = step.condition === undefined ? undefined : c.compile(step.condition, [...at, 'condition']);
  const siblings = isPlainObject(step[inputKey]) ? new Set(Object.keys(step[inputKey] as object)) : new Set<string>();
  const kind = kindOf(step, c.options.kinds);
  // Components (`prompt://name@v`, `{ component: name@v }`) resolved from the library.
  const use = (path: Path, inInput: boolean): ComponentUse => ({
    library: c.options.library, used: c.used, hyphenated: c.hyphenated, inputKeys: isPlainObject(step[inputKey]) ? siblings : undefined, inInput,
    ownTemplates: kind?.ownTemplates ?? [], report: (p, message) => c.report(c.locator.offsetOf(p), 'reference', message),
  });
  const config = resolveComponents(c.compile(step.config ?? {}, [...at, 'config']), [...at, 'config'], use([...at, 'config'], false));
  const input = resolveComponents(c.compile(step[inputKey] ?? null, [...at, inputKey]), [...at, inputKey], use([...at, inputKey], true));
  if (condition) c.checkSecrets(condition, [...at, 'condition'], 'condition');
  c.checkSecretsOfKind(kind, config, at);
  c.checkSecrets(input, [...at, inputKey], inputKey);
  const refs = c.refsOf(e);
  if (condition) checkReferences(condition, [...at, 'condition'], refs, c.locator, c.report);
  checkReferences(config, [...at, 'config'], refs, c.locator, c.report);
  checkReferences(input, [...at, inputKey], { ...refs, siblings }, c.locator, c.report);
  if (input.kind === 'object') checkSiblingCycles(input, [...at, inputKey], siblings, refs.earlier, c.locator, c.report);

  // Without a valid operation or agent there is no config to check against; with `config:`
  // misspelt (`confg:`), the misspelling is the one problem (reported by the schema), not also
  // every key the config lacks.
  const misspeltConfig = step.config === undefined && Object.keys(e.raw).some((k) => !(k in Step.shape) && suggest(k, Object.keys(Step.shape)) === 'config');
  const named = step.operation ?? step.agent;
  if ((step.operation === undefined) !== (step.agent === undefined) && named !== undefined && !kind) {
    const key = step.operation !== undefined ? 'operation' : 'agent';
    const names = Object.entries(c.options.kinds).filter(([, k]) => k.key === key).map(([n]) => n);
    const close = suggest(named, names);
    c.report(c.locator.offsetOf([...at, key]), 'unknown-operation', `unknown ${key} '${named}'${close ? ` — did you mean '${close}'?` : ` (expected one of: ${names.join(', ')})`}`);
  }
  const configProblems = kind && !misspeltConfig ? checkStepConfig(step, kind, config, input, c.options) : [];
  for (const p of configProblems) {
    const path = [...at, ...(p.path[0] === 'inputs' ? [inputKey, ...p.path.slice(1)] : p.path)];
    c.report(c.locator.offsetOf(path, p.atKey), p.code ?? 'config', p.message);
  }

  const duration = (value: unknown, path: Path): number | undefined => {
    if (value === undefined) return undefined;
    try {
      return parseDuration(value as string | number);
    } catch (err) {
      if (!(err instanceof DurationError)) throw err;
      c.report(c.locator.offsetOf(path), 'schema', err.message);
      return undefined;
    }
  };
  let retry: CompiledStep['retry'];
  if (step.retry) {
    const r = step.retry;
    const strategy = r.backoff === 'exponential' || r.backoff === 'linear' || r.backoff === 'fixed' ? r.backoff : undefined;
    const first = strategy ? duration(r.initialDelay ?? 1000, [...at, 'retry', 'initialDelay']) : duration(r.backoff ?? 0, [...at, 'retry', 'backoff']);
    if (!strategy && r.initialDelay !== undefined) c.report(c.locator.offsetOf([...at, 'retry', 'initialDelay'], true), 'schema', '`initialDelay` goes with `backoff: exponential | linear | fixed` (a `backoff` duration is the first delay itself)');
    const maxDelay = Math.min(duration(r.maxDelay ?? LIMITS.retryDelayMs, [...at, 'retry', 'maxDelay']) ?? LIMITS.retryDelayMs, LIMITS.retryDelayMs);
    retry = { attempts: r.attempts ?? r.maxAttempts ?? 1, backoffMs: Math.min(first ?? 0, maxDelay), strategy: strategy ?? 'exponential', maxDelayMs: maxDelay, ...(r.retryOn ? { retryOn: r.retryOn } : {}) };
  }
  // Time limit, fallback and cache: for operations (a hitl step's timeout is in its config).
  const policies = (['timeout', 'onTimeout', 'cache'] as const).filter((k) => step[k] !== undefined);
  if (policies.length && step.agent !== undefined) {
    for (const k of policies) c.report(c.locator.offsetOf([...at, k], true), 'schema', `'${k}' is for operation steps${k === 'timeout' ? " (a hitl step's timeout is `config.timeout`)" : ''}`);
  }
  const timeoutMs = step.timeout !== undefined ? duration(step.timeout, [...at, 'timeout']) : undefined;
  if (step.onTimeout && step.timeout === undefined) c.report(c.locator.offsetOf([...at, 'onTimeout'], true), 'schema', '`onTimeout` needs a `timeout` on the step');
  if (timeoutMs !== undefined && (timeoutMs < 1 || timeoutMs > LIMITS.stepTimeoutMs)) c.report(c.locator.offsetOf([...at, 'timeout']), 'schema', `timeout is between 1 ms and ${LIMITS.stepTimeoutMs / 1000} s`);
  const refs2 = c.refsOf(e);
  const policyTemplate = (value: unknown, path: Path) => {
    const t = c.compile(value, path);
    c.checkSecrets(t, path, String(path.at(-1)));
    checkReferences(t, path, refs2, c.locator, c.report);
    return t;
  };
  const onTimeout = step.onTimeout
    ? { error: step.onTimeout.error ?? step.onTimeout.fallback === undefined, ...(step.onTimeout.fallback !== undefined ? { fallback: policyTemplate(step.onTimeout.fallback, [...at, 'onTimeout', 'fallback']) } : {}) }
    : undefined;
  // A script reads earlier steps, the run and env besides its input: what identifies its result
  // cannot be guessed from its input and config, so the author says (`cache.key`).
  if (step.cache && step.operation === 'code' && step.cache.key === undefined) {
    c.report(c.locator.offsetOf([...at, 'cache']), 'schema', 'a code step reads earlier steps and the run besides its input: give `cache.key` (what identifies its result, e.g. "${input.id}")');
  }
  if (timeoutMs !== undefined && retry && timeoutMs * retry.attempts + retry.maxDelayMs! * (retry.attempts - 1) > LIMITS.stepTimeoutMs) {
    c.report(c.locator.offsetOf([...at, 'timeout']), 'schema', `timeout × attempts (with the delays between them) is over ${LIMITS.stepTimeoutMs / 60_000} minutes: one step may not hold its run that long`);
  }
  const cache = step.cache
    ? {
      ttl: step.cache.ttl,
      ...(step.cache.key !== undefined ? { key: policyTemplate(step.cache.key, [...at, 'cache', 'key']) } : {}),
      ...(step.cache.bypass !== undefined ? { bypass: policyTemplate(step.cache.bypass, [...at, 'cache', 'bypass']) } : {}),
    }
    : undefined;
  return {
    type: 'step', id: idOf(e), segment: e.segment, name: step.name, kind: named ?? '', key: step.agent !== undefined ? 'agent' : 'operation',
    index: e.order, condition, config, input, onError: step.onError ?? 'fail', retry, ...(e.uses ? { agent: e.uses } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(onTimeout ? { onTimeout } : {}), ...(cache ? { cache } : {}),
  };
}

/** A control node's own fields: checked against its type's keys, its expressions compiled. */
export type CompiledControlFields = Record<string, Template | number | string | undefined>;

const EXPRESSION_FIELDS: Partial<Record<NodeType, string[]>> = {
  parallel: ['condition'], sequence: ['condition'], branch: ['condition'], switch: ['condition', 'value'],
  foreach: ['condition', 'items', 'breakWhen'], while: ['condition'], try: ['condition'], 'map-reduce': ['condition', 'items'],
};

export function compileControl(e: Entry, type: NodeType, c: NodeCompile): CompiledControlFields {
  const schema = nodeSchemas[type];
  const parsed = schema.safeParse(e.raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) c.report(c.locator.offsetOf([...e.at, key], true), 'schema', `unknown key '${key}' for a ${type} node${didYouMean(key, Object.keys(schema.shape))}`);
      } else {
        c.report(c.locator.offsetOf([...e.at, ...(issue.path as Path)]), 'schema', plainIssue(issue, valueAt(e.raw, issue.path)));
      }
    }
  }
  const fields: CompiledControlFields = {};
  for (const key of EXPRESSION_FIELDS[type] ?? []) {
    const value = e.raw[key];
    if (value === undefined) continue;
    const path = [...e.at, key];
    const t = c.compile(value, path);
    c.checkSecrets(t, path, key);
    checkReferences(t, path, c.refsOf(e, key), c.locator, c.report);
    fields[key] = t;
  }
  const limit = (key: string, max: number, what: string) => {
    const v = e.raw[key];
    if (typeof v === 'number' && v > max) c.report(c.locator.offsetOf([...e.at, key]), 'schema', `${key} is at most ${max} (${what}); got ${v}`);
    if (typeof v === 'number') fields[key] = Math.min(v, max);
  };
  limit('maxConcurrency', LIMITS.maxConcurrency, 'the steps of one run share its isolate');
  limit('maxIterations', LIMITS.whileIterationsMax, 'a loop that needs more belongs in a code step');
  if (typeof e.raw.waitFor === 'string') fields.waitFor = e.raw.waitFor;
  // Lists a node needs to do anything.
  const needs: Partial<Record<NodeType, string[][]>> = { parallel: [['steps']], sequence: [['steps']], foreach: [['step', 'steps']], while: [['steps']], try: [['steps']], 'map-reduce': [['map'], ['reduce']], branch: [['then', 'else']] };
  for (const options of needs[type] ?? []) {
    // Written (even if its entries could not be resolved, which is reported where they are).
    const written = (k: string) => (e.children.get(k)?.length ?? 0) > 0 || (Array.isArray(e.raw[k]) ? (e.raw[k] as unknown[]).length > 0 : e.raw[k] !== undefined && e.raw[k] !== null);
    if (!options.some(written)) c.report(c.locator.offsetOf(e.at), 'schema', `a ${type} node needs ${options.map((k) => `\`${k}\``).join(' or ')} (a step, or a list of them)`);
  }
  if (type === 'foreach' && e.raw.step !== undefined && e.raw.steps !== undefined) c.report(c.locator.offsetOf([...e.at, 'steps'], true), 'schema', '`step` and `steps` say the same: use one');
  if (type === 'foreach' && Array.isArray(e.raw.items) && e.raw.items.length > LIMITS.foreachItems) c.report(c.locator.offsetOf([...e.at, 'items']), 'schema', `a foreach goes through at most ${LIMITS.foreachItems} items`);
  return fields;
}

/** The compiled tree from the entries, with every named node's place. */
export function assembleTree(entries: Entry[], steps: ReadonlyMap<Entry, CompiledStep>, controls: ReadonlyMap<Entry, CompiledControlFields>): Pick<Ensemble, 'body' | 'steps' | 'names'> {
  const names = new Map<string, NodePlace>();
  const built = new Map<Entry, CompiledNode>();
  const list = (key: string, of: Entry) => (of.children.get(key) ?? []).map((child) => built.get(child)).filter((n): n is CompiledNode => n !== undefined);
  // Children come after their parent in file order: build from the last entry back.
  for (const e of [...entries].reverse()) {
    if (e.name !== undefined && !names.has(e.name)) names.set(e.name, { id: idOf(e), parts: partsOf(e), loops: loopsOf(e) });
    const step = steps.get(e);
    if (step) { built.set(e, step); continue; }
    const f = controls.get(e);
    if (!f || e.type === undefined || e.type === 'step') continue;
    const common = { id: idOf(e), segment: e.segment, ...(e.name !== undefined ? { name: e.name } : {}), ...(f.condition && e.type !== 'branch' && e.type !== 'while' ? { condition: f.condition as Template } : {}) };
    const node = controlNode(e, e.type, f, common, list);
    if (node) built.set(e, node);
  }
  const top = entries.filter((e) => !e.parent).map((e) => built.get(e)).filter((n): n is CompiledNode => n !== undefined);
  return { body: top, steps: entries.map((e) => steps.get(e)).filter((s): s is CompiledStep => s !== undefined), names };
}

const TRUE: Template = { kind: 'const', value: true };

function controlNode(e: Entry, type: NodeType, f: CompiledControlFields, common: { id: string; segment: string; name?: string; condition?: Template }, list: (key: string, of: Entry) => CompiledNode[]): ControlNode | undefined {
  const t = (key: string) => (f[key] as Template | undefined) ?? TRUE;
  switch (type) {
    case 'parallel': return { ...common, type, branches: list('steps', e), waitFor: f.waitFor === 'any' ? 'any' : 'all' };
    case 'sequence': return { ...common, type, steps: list('steps', e) };
    case 'branch': return { ...common, type, test: t('condition'), then: list('then', e), else: list('else', e) };
    case 'switch': return {
      ...common, type, value: t('value'), default: list('default', e),
      cases: [...e.children.keys()].filter((k) => k.startsWith('cases.')).map((k) => [k.slice('cases.'.length), list(k, e)] as [string, CompiledNode[]]),
    };
    case 'foreach': return { ...common, type, items: t('items'), body: [...list('step', e), ...list('steps', e)], maxConcurrency: (f.maxConcurrency as number | undefined) ?? 1, ...(f.breakWhen ? { breakWhen: f.breakWhen as Template } : {}) };
    case 'while': return { ...common, type, test: t('condition'), body: list('steps', e), maxIterations: (f.maxIterations as number | undefined) ?? LIMITS.whileIterations };
    case 'try': return { ...common, type, body: list('steps', e), catch: list('catch', e), finally: list('finally', e) };
    case 'map-reduce': return { ...common, type, items: t('items'), map: list('map', e), reduce: list('reduce', e), maxConcurrency: (f.maxConcurrency as number | undefined) ?? 1 };
  }
}

export { childKeys };

/** A step's fields that are valid on their own (a step with a bad `retry` still has its config checked). */
export function salvageStep(raw: Record<string, unknown>): StepFile {
  const step: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(Step.shape)) {
    const value = valid(schema, raw[key]);
    if (value !== undefined) step[key] = value;
  }
  step.name = typeof raw.name === 'string' ? raw.name : '';
  return step as StepFile;
}

/** What an expression may read by name where it is, and why the other names may not be read. */
export interface RefScope {
  /** Nodes that may be read (they ran, or may have, before). */
  earlier: ReadonlySet<string>;
  all: ReadonlySet<string>;
  self?: string;
  siblings?: ReadonlySet<string>;
  /** Frame variables in scope here (`item`, `index`, `error`, `results`). */
  vars: ReadonlySet<string>;
  /** Why a node of the file cannot be read here (after "step 'x' "). */
  reason: (name: string) => string;
  /** A YAML mistake garbled a step's name: an unknown name may be that step's, so it is not reported. */
  namesUncertain?: boolean;
}

export function checkReferences(template: Template, path: Path, scope: RefScope, locator: SourceLocator, report: Report): void {
  forEachExpression(template, path, (expr, exprPath, ordinal) => {
    const at = (needle: string) => locator.offsetInExpression(exprPath, ordinal, Math.max(0, expr.source.indexOf(needle)));
    const reported = new Set<string>();
    for (const root of expr.roots) {
      // A step's view has six fields; anything else is silently undefined at run time, so it is a
      // load problem here (`${a.sucess}`).
      const isStep = scope.all.has(root) && root !== scope.self && !scopeRoots.has(root) && !scope.siblings?.has(root);
      if (isStep) {
        for (const field of expr.rootFields.get(root) ?? []) {
          if (!(stepViewFields as readonly string[]).includes(field)) {
            report(at(`${root}.${field}`), 'reference', `step '${root}' has no field '${field}'${didYouMean(field, stepViewFields)}`);
          }
        }
      }
      if (scopeRoots.has(root) || scope.vars.has(root) || scope.earlier.has(root) || scope.siblings?.has(root)) continue;
      if (scope.all.has(root)) { report(at(root), 'reference', `step '${root}' ${scope.reason(root)}`); continue; }
      if (scope.namesUncertain) continue;
      // `${fetch-ordr.output}` with no step `fetch-ordr` parses as `fetch - ordr`: report the name written.
      const hyphenated = new RegExp(`(?<![\\w.$-])${root.replace(/\$/g, '\\$')}(?:-[A-Za-z0-9_]+)+`).exec(expr.source)?.[0];
      const written = hyphenated ?? root;
      if (reported.has(written)) continue;
      reported.add(written);
      if (hyphenated) for (const part of hyphenated.split('-')) reported.add(part);
      // The key whose value this is cannot be what it meant (that would read itself).
      const own = scope.siblings ? exprPath[path.length] : undefined;
      const known = [...scope.earlier, ...scopeRoots, ...scope.vars, ...[...(scope.siblings ?? [])].filter((k) => k !== own)];
      const close = suggest(written, known);
      report(at(written), 'reference', close
        ? `unknown ${scope.all.has(close) || scope.earlier.has(close) ? 'step' : 'name'} '${written}' — did you mean '${close}'?`
        : `unknown name '${written}': not a step before this one, ${scope.siblings?.size ? 'a sibling input, ' : ''}or one of input, env, execution${scope.vars.size ? `, ${[...scope.vars].join(', ')}` : ''}`);
    }
  });
}

/** `minApprovals: ${Math.ceil(approvers.length / 2)}` reads a sibling; two siblings reading each other is a cycle. */
function checkSiblingCycles(input: Extract<Template, { kind: 'object' }>, path: Path, siblings: ReadonlySet<string>, steps: ReadonlySet<string>, locator: SourceLocator, report: Report): void {
  const deps = new Map<string, Set<string>>();
  for (const [key, value] of input.entries) {
    const d = new Set<string>();
    forEachExpression(value, [], (expr) => { for (const r of expr.roots) if (siblings.has(r) && !steps.has(r) && !scopeRoots.has(r)) d.add(r); });
    deps.set(key, d);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (key: string): boolean => {
    if (state.get(key) === 'done') return false;
    if (state.get(key) === 'visiting') return true;
    state.set(key, 'visiting');
    const cyclic = [...(deps.get(key) ?? [])].some(visit);
    state.set(key, 'done');
    return cyclic;
  };
  for (const key of deps.keys()) {
    state.clear();
    if (visit(key)) {
      report(locator.offsetOf([...path, key], true), 'reference', `input '${key}' depends on itself through its sibling inputs`);
      return;
    }
  }
}

/** Static values of a template object: known keys with no expression, and the keys that have one. */
function splitStatic(t: Template): { values: Record<string, unknown>; dynamic: string[] } {
  if (t.kind === 'const') return { values: isPlainObject(t.value) ? t.value : {}, dynamic: [] };
  if (t.kind !== 'object') return { values: {}, dynamic: [] };
  const values: Record<string, unknown> = {};
  const dynamic: string[] = [];
  for (const [k, v] of t.entries) {
    if (isStatic(v)) values[k] = v.value;
    else dynamic.push(k);
  }
  return { values, dynamic };
}

/** The kind a step names, when it names exactly one that exists under that key. */
export function kindOf(step: StepFile, kinds: StepKinds): StepKind | undefined {
  if ((step.operation === undefined) === (step.agent === undefined)) return undefined;
  const key = step.operation !== undefined ? 'operation' : 'agent';
  const name = (step.operation ?? step.agent)!;
  const kind = Object.hasOwn(kinds, name) ? kinds[name] : undefined;
  return kind?.key === key ? kind : undefined;
}

/** The kind's own checks of the step, with what is static in it and what holds expressions. */
function checkStepConfig(step: StepFile, kind: StepKind, config: Template, input: Template, options: { scripts: ReadonlySet<string> }) {
  const cfg = splitStatic(config);
  return kind.check({
    kind: (step.operation ?? step.agent)!,
    config: cfg.values,
    dynamicConfig: cfg.dynamic,
    input: splitStatic(input).values,
    written: { config: step.config ?? {}, input: step.inputs ?? step.input },
  }, { scripts: options.scripts });
}


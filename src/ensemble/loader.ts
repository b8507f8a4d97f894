import { LineCounter, parseDocument, visit } from 'yaml';
import { yamlMistakes } from './yaml-errors';
import type { z } from 'zod';
import { compileTemplate, forEachExpression, isStatic, type Path, type Template, type TemplateProblem } from '../expression/template';
import type { StepKind, StepKinds } from '../runtime/step-kind';
import { checkSecretUses } from './secret-uses';
import { liftExpressions, restoreValue } from './lift';
import { SourceLocator } from './locate';
import { EnsembleFile, InputDeclaration, Retry, Step, type StepFile } from './schema';
import { buildInputSchema } from './input-schema';
import { parseDuration, DurationError } from './duration';
import { didYouMean, suggest } from './suggest';
import { plainIssue, valueAt } from './issue-words';
import { stepViewFields } from '../runtime/context';
import { depthOf, LIMITS } from '../limits';
import { isInfraSecret, SLACK_WEBHOOK } from '../secrets';
import { reservedNames, scopeRoots, type CompiledStep, type Ensemble } from './ensemble';
import type { Problem, ProblemCode } from './problem';

export interface SourceFile {
  file: string;
  source: string;
  hash?: string;
}

export interface LoadOptions {
  /** The kinds of step this deployment runs (src/kinds.ts), by name. */
  kinds: StepKinds;
  /** Script keys available to `operation: code` (`auto-approve` for scripts/auto-approve.ts). */
  scripts: ReadonlySet<string>;
  /**
   * Env names that are configuration (src/secrets.ts): any other name read by an expression is a
   * secret, usable only in a credential field. Left out only to recompile the definition a stored
   * run started on, which was checked when the run started.
   */
  publicEnv?: ReadonlySet<string>;
}

export type LoadResult = { ok: true; ensemble: Ensemble } | { ok: false; name: string; problems: Problem[] };

const baseName = (file: string) => file.replace(/^.*\//, '').replace(/\.ya?ml$/i, '');

/**
 * Loads one ensemble file: YAML, schema, expressions, references, operation configs. Reports every
 * problem at once, each with file:line:col; a file with any problem never yields an Ensemble.
 */
export function loadEnsemble(src: SourceFile, options: LoadOptions): LoadResult {
  const name = baseName(src.file);
  const at = (message: string): LoadResult => ({ ok: false, name, problems: [{ file: src.file, line: 1, column: 1, code: 'yaml', message }] });
  if (src.source.length > LIMITS.ensembleFileBytes) {
    return at(`the file is ${src.source.length} characters long (limit ${LIMITS.ensembleFileBytes}): split it, or move data out of it`);
  }
  // Loading never throws: whatever the parser or a check throws (a stack overflow on pathological
  // nesting included) makes this one ensemble invalid, never the registry or a request.
  try {
    return load(src, options);
  } catch (e) {
    return at(`could not be loaded: ${e instanceof RangeError ? 'nested too deeply' : e instanceof Error ? e.message : String(e)}`);
  }
}

function load(src: SourceFile, options: LoadOptions): LoadResult {
  const problems: Problem[] = [];
  const lines = new LineCounter();
  const lifted = liftExpressions(src.source);
  const doc = parseDocument(lifted.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  const locator = new SourceLocator(doc, lines, lifted.offsets, lifted.restore);
  // A YAML mistake is reported in plain words, and the file is still checked as far as the parser
  // recovered, except where the recovery may have garbled values (the step or key it is in).
  const mistakes = yamlMistakes(doc, lifted.text, (o) => lines.linePos(o).line);
  const damaged = mistakes.map((m) => m.damaged);
  const report = (offset: number, code: ProblemCode, message: string) => {
    if (code !== 'yaml' && damaged.some(([start, end]) => offset >= start && offset <= end)) return;
    problems.push({ file: src.file, ...locator.position(offset), code, message: lifted.restore(message) });
  };
  const fallbackName = baseName(src.file);
  const failed = (): LoadResult => ({ ok: false, name: fallbackName, problems: sortProblems(problems) });
  for (const m of mistakes) report(m.offset, 'yaml', m.message);

  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: LIMITS.yamlAliases });
  } catch (e) {
    // The yaml package refuses alias bombs ("Excessive alias count") and unknown aliases here.
    const message = e instanceof Error ? e.message : String(e);
    // An alias to no anchor is reported where it is written.
    let at = 0;
    visit(doc, { Alias(_, node) { if (at === 0 && !node.resolve(doc)) at = node.range?.[0] ?? 0; } });
    report(at, 'yaml', /excessive alias/i.test(message) ? `too many YAML aliases: at most ${LIMITS.yamlAliases} are expanded per file` : message);
    return failed();
  }
  if (depthOf(js, LIMITS.yamlDepth) > LIMITS.yamlDepth) {
    // The parser may have said so already, at the place.
    if (!mistakes.some((m) => /nested too deeply/.test(m.message))) report(0, 'yaml', `values are nested more than ${LIMITS.yamlDepth} levels deep`);
    return failed();
  }
  const raw = restoreValue(js ?? {}, lifted.restore);
  if (!isPlainObject(raw)) {
    report(0, 'schema', 'an ensemble file is a mapping with at least `agents:` (a list of steps)');
    return failed();
  }
  acceptDialect(raw, locator, report);
  const parsed = EnsembleFile.safeParse(raw);
  // On a schema problem every part that is valid on its own is still checked (top-level keys, and
  // each step's fields), so one pass reports schema, reference, expression and config problems.
  if (!parsed.success) for (const issue of parsed.error.issues) reportIssue(issue, [], locator, report, raw);
  const file: EnsembleFile = parsed.success ? parsed.data : salvageFile(raw);
  const rawAgents = Array.isArray(raw.agents) ? raw.agents : [];
  const indexed: [number, StepFile][] = parsed.success
    ? file.agents.map((s, i) => [i, s])
    : rawAgents.flatMap((s, i) => (isPlainObject(s) ? [[i, salvageStep(s)] as [number, StepFile]] : []));
  // Names as written, by index, even of steps that failed the schema, so a reference to one is
  // neither "unknown" nor "runs after".
  const rawNames = rawAgents.map((s) => (isPlainObject(s) && typeof s.name === 'string' ? s.name : undefined));
  // After a YAML mistake a step's name may be garbled (or the step lost): a name that looks unknown
  // may be that step's, so unknown names are reported once the YAML is fixed.
  const namesUncertain = mistakes.length > 0;
  const name = file.ensemble ?? fallbackName;

  const compile = (value: unknown, path: Path): Template => {
    const tplProblems: TemplateProblem[] = [];
    const t = compileTemplate(value, hyphenated, tplProblems, path);
    for (const p of tplProblems) {
      report(locator.offsetInExpression(p.path, p.ordinal, p.offset), 'expression', `invalid expression: ${p.message}`);
    }
    forEachExpression(t, path, (expr, exprPath, ordinal) => {
      const offset = (needle: string) => locator.offsetInExpression(exprPath, ordinal, Math.max(0, expr.source.indexOf(needle)));
      if (expr.envWhole) report(offset('env'), 'expression', 'env can only be read by name (`env.NAME`): the whole of env would include every secret');
      const inNotificationConfig = exprPath.includes('notificationConfig');
      for (const name of expr.envNames) {
        if (name === SLACK_WEBHOOK && inNotificationConfig) continue;
        if (isInfraSecret(name)) report(offset(name), 'expression', `env.${name} is a credential of this Worker and cannot be read by an ensemble`);
      }
    });
    return t;
  };

  const allNames = new Set(rawNames.filter((n) => n !== undefined));
  const hyphenated = [...allNames].filter((n) => n.includes('-'));
  const steps: CompiledStep[] = [];
  rawNames.forEach((stepName, index, all) => {
    if (stepName !== undefined && all.indexOf(stepName) !== index) {
      report(locator.offsetOf(['agents', index, 'name']), 'duplicate-step', `duplicate step name '${stepName}' (first at step ${all.indexOf(stepName) + 1})`);
    }
  });

  indexed.forEach(([index, step]) => {
    const at: Path = ['agents', index];
    const earlier = new Set(rawNames.slice(0, index).filter((n) => n !== undefined));
    if (reservedNames.has(step.name)) {
      report(locator.offsetOf([...at, 'name']), 'schema', `'${step.name}' is reserved and cannot name a step`);
    }
    const inputKey = step.inputs !== undefined ? 'inputs' : 'input';
    const condition = step.condition === undefined ? undefined : compile(step.condition, [...at, 'condition']);
    const config = compile(step.config ?? {}, [...at, 'config']);
    const input = compile(step[inputKey] ?? null, [...at, inputKey]);
    const siblings = input.kind === 'object' || (input.kind === 'const' && isPlainObject(input.value))
      ? new Set(Object.keys((step[inputKey] ?? {}) as object))
      : new Set<string>();

    const kind = kindOf(step, options.kinds);
    if (options.publicEnv) {
      const rules = { publicEnv: options.publicEnv, credentials: [], storedAsWritten: false };
      const uses = [
        ...(condition ? checkSecretUses(condition, [...at, 'condition'], 'condition', rules) : []),
        ...checkSecretUses(config, [...at, 'config'], 'config', { ...rules, credentials: kind?.credentials ?? [], storedAsWritten: !!kind?.storesCredentials, destination: kind?.destination }),
        ...checkSecretUses(input, [...at, inputKey], inputKey, rules),
      ];
      for (const p of uses) report(locator.offsetInExpression(p.path, p.ordinal, p.offset), 'expression', p.message);
    }
    const refs = { earlier, all: allNames, self: step.name, namesUncertain };
    if (condition) checkReferences(condition, [...at, 'condition'], refs, locator, report);
    checkReferences(config, [...at, 'config'], refs, locator, report);
    checkReferences(input, [...at, inputKey], { ...refs, siblings }, locator, report);
    if (input.kind === 'object') checkSiblingCycles(input, [...at, inputKey], siblings, earlier, locator, report);

    // Without a valid operation or agent there is no config to check against; with `config:`
    // misspelt (`confg:`), the misspelling is the one problem (reported by the schema), not also
    // every key the config lacks.
    const rawStep = rawAgents[index];
    const misspeltConfig = step.config === undefined && isPlainObject(rawStep)
      && Object.keys(rawStep).some((k) => !(k in Step.shape) && suggest(k, Object.keys(Step.shape)) === 'config');
    const named = step.operation ?? step.agent;
    if ((step.operation === undefined) !== (step.agent === undefined) && named !== undefined && !kind) {
      const key = step.operation !== undefined ? 'operation' : 'agent';
      const options_ = Object.entries(options.kinds).filter(([, k]) => k.key === key).map(([n]) => n);
      const close = suggest(named, options_);
      report(locator.offsetOf([...at, key]), 'unknown-operation', `unknown ${key} '${named}'${close ? ` — did you mean '${close}'?` : ` (expected one of: ${options_.join(', ')})`}`);
    }
    const configProblems = kind && !misspeltConfig ? checkStepConfig(step, kind, config, input, options) : [];
    for (const p of configProblems) {
      const path = [...at, ...(p.path[0] === 'inputs' ? [inputKey, ...p.path.slice(1)] : p.path)];
      report(locator.offsetOf(path, p.atKey), p.code ?? 'config', p.message);
    }

    let retry: CompiledStep['retry'];
    if (step.retry) {
      try {
        retry = { attempts: step.retry.attempts, backoffMs: parseDuration(step.retry.backoff ?? 0) };
      } catch (e) {
        if (!(e instanceof DurationError)) throw e;
        report(locator.offsetOf([...at, 'retry', 'backoff']), 'schema', e.message);
      }
    }
    steps.push({ name: step.name, kind: named ?? '', key: step.agent !== undefined ? 'agent' : 'operation', index, condition, config, input, onError: step.onError ?? 'fail', retry });
  });

  let output: Template | undefined;
  if (file.output !== undefined) {
    output = compile(file.output, ['output']);
    if (options.publicEnv) {
      for (const p of checkSecretUses(output, ['output'], 'output', { publicEnv: options.publicEnv, credentials: [], storedAsWritten: false })) {
        report(locator.offsetInExpression(p.path, p.ordinal, p.offset), 'expression', p.message);
      }
    }
    checkReferences(output, ['output'], { earlier: allNames, all: allNames, namesUncertain }, locator, report);
  }

  const inputs = Object.fromEntries(
    Object.entries(file.inputs ?? {}).map(([k, v]) => [k, InputDeclaration.parse(typeof v === 'string' ? { type: v } : v)]),
  );

  if (problems.length > 0) return { ok: false, name, problems: sortProblems(problems) };
  return {
    ok: true,
    ensemble: {
      name,
      description: file.description,
      file: src.file,
      source: src.source,
      hash: src.hash ?? '',
      inputs,
      inputSchema: buildInputSchema(inputs),
      steps,
      output,
    },
  };
}

type Report = (offset: number, code: ProblemCode, message: string) => void;

/** Features of the conductor format this runtime does not have: one clear problem each, not a cascade. */
const UNSUPPORTED: Record<string, string> = {
  flow: 'steps run in the order of `agents`',
  trigger: 'runs start with POST /ensembles/:name',
  state: 'steps read earlier steps by name (`${step.output}`)',
};

/**
 * Where the conductor docs' dialect differs only in spelling, it is accepted (in place, before the
 * schema): `operation: hitl` is `agent: hitl`, `outputs:` is `output:`. Its features that this
 * runtime lacks are one problem each, and are then left out of the schema check.
 */
function acceptDialect(raw: unknown, locator: SourceLocator, report: Report): void {
  if (!isPlainObject(raw)) return;
  if ('outputs' in raw) {
    if ('output' in raw) report(locator.offsetOf(['outputs'], true), 'schema', '`outputs` and `output` are synonyms: use one');
    else raw.output = raw.outputs;
    delete raw.outputs;
  }
  for (const [key, instead] of Object.entries(UNSUPPORTED)) {
    if (key in raw) {
      report(locator.offsetOf([key], true), 'schema', `'${key}:' is a conductor feature this runtime does not support (${instead})`);
      delete raw[key];
    }
  }
  if (!Array.isArray(raw.agents)) return;
  for (const step of raw.agents) {
    if (isPlainObject(step) && step.operation === 'hitl') {
      if (step.agent === 'hitl') report(locator.offsetOf(['agents', raw.agents.indexOf(step), 'operation'], true), 'schema', "'operation: hitl' and 'agent: hitl' say the same: keep one");
      if (step.agent === undefined || step.agent === 'hitl') {
        step.agent = 'hitl';
        delete step.operation;
      }
    }
  }
}

/** The top-level keys that are valid on their own, for checking the rest of a file that failed the schema. */
function salvageFile(raw: Record<string, unknown>): EnsembleFile {
  const shape = EnsembleFile.shape;
  const declared = isPlainObject(raw.inputs)
    ? Object.fromEntries(Object.entries(raw.inputs).filter(([, v]) => shape.inputs.unwrap().valueType.safeParse(v).success))
    : undefined;
  return {
    ensemble: valid(shape.ensemble, raw.ensemble),
    description: valid(shape.description, raw.description),
    inputs: declared as EnsembleFile['inputs'],
    agents: [],
    output: raw.output,
  };
}

/** A step's fields that are valid on their own (a step with a bad `retry` still has its config checked). */
function salvageStep(raw: Record<string, unknown>): StepFile {
  const step: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(Step.shape)) {
    const value = valid(schema, raw[key]);
    if (value !== undefined) step[key] = value;
  }
  step.name = typeof raw.name === 'string' ? raw.name : '';
  return step as StepFile;
}

function valid<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  const r = schema.safeParse(value);
  return r.success ? r.data : undefined;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function reportIssue(issue: z.core.$ZodIssue, prefix: Path, locator: SourceLocator, report: Report, raw?: unknown): void {
  const path = [...prefix, ...(issue.path as Path)];
  const last = path.at(-1);
  if (issue.code === 'invalid_value' && (last === 'operation' || last === 'agent')) {
    // Name what was written, and what was probably meant.
    const written = path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined), raw);
    const options = (issue.values as unknown[]).map(String);
    const close = typeof written === 'string' ? suggest(written, options) : undefined;
    report(locator.offsetOf(path), 'unknown-operation', `unknown ${last} '${String(written)}'${close ? ` — did you mean '${close}'?` : ` (expected one of: ${options.join(', ')})`}`);
    return;
  }
  if (issue.code === 'unrecognized_keys') {
    for (const key of issue.keys) report(locator.offsetOf([...path, key], true), 'schema', unknownKey(key, path));
    return;
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // Report the branch that got furthest instead of "invalid input".
    const best = issue.errors.reduce((a, b) => (b.length > 0 && (a.length === 0 || b[0]!.path.length > a[0]!.path.length) ? b : a));
    if (best.length > 0 && best[0]!.path.length > 0) {
      for (const inner of best) reportIssue(inner, path, locator, report, raw);
      return;
    }
  }
  report(locator.offsetOf(path), 'schema', plainIssue({ ...issue, path } as z.core.$ZodIssue, valueAt(raw, path)));
}

/** An unknown key named with where it is and the key probably meant. */
function unknownKey(key: string, path: Path): string {
  if (path.length === 0) return `unknown top-level key '${key}'${didYouMean(key, Object.keys(EnsembleFile.shape))}`;
  if (path.length === 2 && path[0] === 'agents') return `unknown step key '${key}'${didYouMean(key, Object.keys(Step.shape))}`;
  if (path.length === 3 && path[0] === 'agents' && path[2] === 'retry') return `unknown retry key '${key}'${didYouMean(key, Object.keys(Retry.shape))}`;
  if (path.length === 2 && path[0] === 'inputs') return `unknown key '${key}' in the declaration of input '${String(path[1])}'${didYouMean(key, Object.keys(InputDeclaration.shape))}`;
  return `unknown key '${key}' (at ${path.join('.')})`;
}

interface RefScope {
  earlier: ReadonlySet<string>;
  all: ReadonlySet<string>;
  self?: string;
  siblings?: ReadonlySet<string>;
  /** A YAML mistake garbled a step's name: an unknown name may be that step's, so it is not reported. */
  namesUncertain?: boolean;
}

function checkReferences(template: Template, path: Path, scope: RefScope, locator: SourceLocator, report: Report): void {
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
      if (scopeRoots.has(root) || scope.earlier.has(root) || scope.siblings?.has(root)) continue;
      if (root === scope.self) { report(at(root), 'reference', `step '${root}' cannot read its own result`); continue; }
      if (scope.all.has(root)) { report(at(root), 'reference', `step '${root}' runs after '${scope.self}': only earlier steps can be referenced`); continue; }
      if (scope.namesUncertain) continue;
      // `${fetch-ordr.output}` with no step `fetch-ordr` parses as `fetch - ordr`: report the name written.
      const hyphenated = new RegExp(`(?<![\\w.$-])${root.replace(/\$/g, '\\$')}(?:-[A-Za-z0-9_]+)+`).exec(expr.source)?.[0];
      const written = hyphenated ?? root;
      if (reported.has(written)) continue;
      reported.add(written);
      if (hyphenated) for (const part of hyphenated.split('-')) reported.add(part);
      // The key whose value this is cannot be what it meant (that would read itself).
      const own = scope.siblings ? exprPath[path.length] : undefined;
      const known = [...scope.earlier, ...scopeRoots, ...[...(scope.siblings ?? [])].filter((k) => k !== own)];
      const close = suggest(written, known);
      report(at(written), 'reference', close
        ? `unknown ${scope.all.has(close) || scope.earlier.has(close) ? 'step' : 'name'} '${written}' — did you mean '${close}'?`
        : `unknown name '${written}': not a step before this one, ${scope.siblings?.size ? 'a sibling input, ' : ''}or one of input, env, execution`);
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
function kindOf(step: StepFile, kinds: StepKinds): StepKind | undefined {
  if ((step.operation === undefined) === (step.agent === undefined)) return undefined;
  const key = step.operation !== undefined ? 'operation' : 'agent';
  const name = (step.operation ?? step.agent)!;
  const kind = Object.hasOwn(kinds, name) ? kinds[name] : undefined;
  return kind?.key === key ? kind : undefined;
}

/** The kind's own checks of the step, with what is static in it and what holds expressions. */
function checkStepConfig(step: StepFile, kind: StepKind, config: Template, input: Template, options: LoadOptions) {
  const cfg = splitStatic(config);
  return kind.check({
    kind: (step.operation ?? step.agent)!,
    config: cfg.values,
    dynamicConfig: cfg.dynamic,
    input: splitStatic(input).values,
    written: { config: step.config ?? {}, input: step.inputs ?? step.input },
  }, { scripts: options.scripts });
}

function sortProblems(problems: Problem[]): Problem[] {
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

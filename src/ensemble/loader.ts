import { LineCounter, parseDocument, visit } from 'yaml';
import { yamlMistakes } from './yaml-errors';
import type { z } from 'zod';
import { compileTemplate, forEachExpression, type Path, type Template, type TemplateProblem } from '../expression/template';
import type { StepKind, StepKinds } from '../runtime/step-kind';
import { checkSecretUses } from './secret-uses';
import { compileTriggers } from '../triggers/load';
import { headerNameProblem, outputBlocks, UNSUPPORTED_BLOCK_KEYS } from './output-blocks';
import { conductorSyntax, holdsTemplate } from './conductor-syntax';
import type { Library } from '../library/library';
import { liftExpressions, restoreValue } from './lift';
import { SourceLocator } from './locate';
import { EnsembleFile, InputDeclaration, Retry, Step } from './schema';
import { buildInputSchema } from './input-schema';
import { didYouMean, suggest } from './suggest';
import { plainIssue, valueAt } from './issue-words';
import { depthOf, LIMITS } from '../limits';
import { isInfraSecret, SLACK_WEBHOOK } from '../secrets';
import { reservedNames, type CompiledStep, type Ensemble, type OutputBlock } from './ensemble';
import type { Problem, ProblemCode } from './problem';
import { cannotRead, collectTree, loopsOf, variablesOf, type Entry } from './load-tree';
import { checkReferences, compileControl, compileStep, salvageStep, assembleTree, type CompiledControlFields, type RefScope } from './load-nodes';

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
  /** The project's agents/ and prompts/ (src/library): what `agent: <name>` and `prompt://` find. */
  library?: Library;
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
  // Problems beyond the first `loadProblems` are counted, not listed: one mistake repeated by a
  // generated or hostile file must not make an answer (or the work to locate each) huge.
  let unlisted = 0;
  const report = (offset: number, code: ProblemCode, message: string) => {
    if (code !== 'yaml' && damaged.some(([start, end]) => offset >= start && offset <= end)) return;
    if (problems.length >= LIMITS.loadProblems) { unlisted++; return; }
    problems.push({ file: src.file, ...locator.position(offset), code, message: lifted.restore(message) });
  };
  const sortProblems = (list: Problem[]): Problem[] => {
    const sorted = list.sort((a, b) => a.line - b.line || a.column - b.column);
    const last = sorted.at(-1);
    return unlisted && last ? [...sorted, { ...last, code: 'schema', message: `and ${unlisted} more problems (the first ${LIMITS.loadProblems} are listed)` }] : sorted;
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
  // After a YAML mistake a step's name may be garbled (or the step lost): a name that looks unknown
  // may be that step's, so unknown names are reported once the YAML is fixed.
  let namesUncertain = mistakes.length > 0;
  const name = file.ensemble ?? fallbackName;

  // The tree, in file order: steps and control nodes with where they sit.
  // Conductor's dialect: with `flow:`, `agents:` are definitions and the flow is what runs (its
  // `agent: <definition>` entries run them).
  const flow = Array.isArray(raw.flow) ? raw.flow : undefined;
  const definitions = flow ? new Map(rawAgents.flatMap((a, i) => (isPlainObject(a) && typeof a.name === 'string' ? [[a.name, { raw: a, at: ['agents', i] as Path }] as const] : []))) : undefined;
  const used = new Set<string>();
  const builtIn = new Set(Object.entries(options.kinds).filter(([, k]) => k.key === 'agent').map(([n]) => n));
  const lookup = { local: definitions, builtIn, library: options.library, used, dropped: 0 };
  const entries = collectTree(flow ?? rawAgents, [flow ? 'flow' : 'agents'], (path, atKey, message, code) => report(locator.offsetOf(path, atKey), code ?? 'schema', message), lookup);
  // A step that could not be resolved (reported) still has a name: later references to it are not "unknown".
  if (lookup.dropped > 0) namesUncertain = true;
  // Problems in what a use takes from a definition are shown at the definition.
  const uses = entries.filter((e) => e.definedAt).sort((a, b) => b.at.length - a.at.length);
  if (uses.length) {
    locator.remap = (path) => {
      const e = uses.find((u) => u.at.length < path.length && u.at.every((k, i) => path[i] === k));
      if (!e) return path;
      const key = String(path[e.at.length]);
      const rest = path.slice(e.at.length);
      if (key === 'config' && rest.length > 1 && !e.definedAt!.ownConfig.has(String(rest[1]))) return [...e.definedAt!.at, ...rest];
      if (key !== 'config' && key !== 'name' && !e.definedAt!.own.has(key) && !(key === 'condition' && e.definedAt!.own.has('when'))) return [...e.definedAt!.at, ...rest];
      return path;
    };
  }
  const named = entries.filter((e) => e.name !== undefined);
  const byName = new Map<string, Entry>();
  for (const e of named) {
    const first = byName.get(e.name!);
    const where = first && (first.parent ? `line ${locator.position(locator.offsetOf(first.at)).line}` : `step ${first.position + 1}`);
    if (first) report(locator.offsetOf([...e.at, 'name']), 'duplicate-step', `duplicate step name '${e.name}' (first at ${where})`);
    else byName.set(e.name!, e);
  }
  const allNames = new Set(byName.keys());
  const hyphenated = [...allNames].filter((n) => n.includes('-'));

  const conductorFile = 'flow' in raw || src.source.startsWith('name:') || /^name:/m.test(src.source.slice(0, 2000));
  const compile = (value: unknown, path: Path): Template => {
    const tplProblems: TemplateProblem[] = [];
    // Conductor's other reference syntaxes would be sent as they are: one problem each, and the
    // string is not read further (no cascade of expression errors).
    value = conductorSyntax(value, path, allNames, conductorFile, (at, message) => report(locator.offsetOf(at), 'expression', message));
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
  /** What a node may read by name, and why it may not read the others. */
  const refsOf = (e: Entry, field?: string): RefScope => {
    const self = e.name ?? e.segment;
    const earlier = new Set(named.filter((t) => cannotRead(t, e, field) === undefined).map((t) => t.name!));
    return { earlier, all: allNames, self, vars: variablesOf(e, field), namesUncertain, reason: (n) => cannotRead(byName.get(n)!, e, field) ?? 'cannot be read here' };
  };
  const secretRules = { publicEnv: options.publicEnv!, credentials: [], storedAsWritten: false };
  const checkSecrets = (t: Template, path: Path, what: string) => {
    if (!options.publicEnv) return;
    for (const p of checkSecretUses(t, path, what, secretRules)) report(locator.offsetInExpression(p.path, p.ordinal, p.offset), 'expression', p.message);
  };

  // Where a kind consumes secrets (its credential fields), and where it sends them.
  const checkSecretsOfKind = (kind: StepKind | undefined, config: Template, at: Path) => {
    if (!options.publicEnv) return;
    const rules = { ...secretRules, credentials: kind?.credentials ?? [], storedAsWritten: !!kind?.storesCredentials, destination: kind?.destination };
    for (const p of checkSecretUses(config, [...at, 'config'], 'config', rules)) report(locator.offsetInExpression(p.path, p.ordinal, p.offset), 'expression', p.message);
  };
  const steps = new Map<Entry, CompiledStep>();
  const controls = new Map<Entry, CompiledControlFields>();
  for (const e of entries) {
    if (e.name !== undefined && reservedNames.has(e.name)) {
      report(locator.offsetOf([...e.at, 'name']), 'schema', `'${e.name}' is reserved and cannot name a step`);
    }
    if (e.type === 'step') {
      const parsedStep = Step.safeParse(e.raw);
      if (!parsedStep.success) for (const issue of parsedStep.error.issues) reportIssue(issue, e.at, locator, report, raw);
      const step = parsedStep.success ? parsedStep.data : salvageStep(e.raw);
      steps.set(e, compileStep(step, e, { compile, refsOf, report, locator, options, checkSecrets, checkSecretsOfKind, used, hyphenated }));
    } else if (e.type !== undefined) {
      controls.set(e, compileControl(e, e.type, { compile, refsOf, report, locator, checkSecrets }));
    }
  }

  let output: Template | undefined;
  let responses: OutputBlock[] | undefined;
  if (file.output !== undefined) {
    // The output reads any node that is not inside a loop (a loop's own name gives its output).
    const outside = new Set(named.filter((t) => loopsOf(t).length === 0).map((t) => t.name!));
    const compileOutput = (value: unknown, path: Path) => {
      const t = compile(value, path);
      checkSecrets(t, path, 'output');
      checkReferences(t, path, { earlier: outside, all: allNames, vars: new Set(), namesUncertain, reason: (n) => cannotRead(byName.get(n)!, byName.get(n)!) ?? `is inside a loop: read the loop's output` }, locator, report);
      return t;
    };
    const blocks = outputBlocks(file.output);
    if (blocks) {
      responses = blocks.map(({ block, path }) => {
        for (const [key, why] of Object.entries(UNSUPPORTED_BLOCK_KEYS)) if (key in block) report(locator.offsetOf([...path, key], true), 'schema', `'${key}:' in an output block is not supported: ${why}`);
        const status = block.status ?? 200;
        if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599 || [204, 205, 304].includes(status)) report(locator.offsetOf([...path, 'status']), 'schema', 'an output block\'s `status` is a number from 200 to 599 (not 204, 205 or 304: the answer has a body), written as it is');
        if (block.headers !== undefined && !isPlainObject(block.headers)) report(locator.offsetOf([...path, 'headers']), 'schema', '`headers` is a mapping of header names to text');
        if (isPlainObject(block.headers) && Object.keys(block.headers).length > 32) report(locator.offsetOf([...path, 'headers']), 'schema', 'an output block sets at most 32 headers');
        for (const h of isPlainObject(block.headers) ? Object.keys(block.headers) : []) {
          const problem = headerNameProblem(h);
          if (problem) report(locator.offsetOf([...path, 'headers', h], true), 'schema', problem);
        }
        return {
          ...(block.when !== undefined ? { when: compileOutput(block.when, [...path, 'when']) } : {}),
          status: typeof status === 'number' ? status : 200,
          ...(isPlainObject(block.headers) ? { headers: compileOutput(block.headers, [...path, 'headers']) } : {}),
          body: compileOutput(block.body ?? null, [...path, 'body']),
        };
      });
    } else output = compileOutput(file.output, ['output']);
  }

  const inputs = Object.fromEntries(
    Object.entries(file.inputs ?? {}).map(([k, v]) => [k, InputDeclaration.parse(typeof v === 'string' ? { type: v } : v)]),
  );
  for (const [k, decl] of Object.entries(inputs)) {
    if (holdsTemplate(decl.default) && isPlainObject(raw.inputs) && Object.hasOwn(raw.inputs, k)) {
      report(locator.offsetOf(['inputs', k, 'default']), 'schema', `the default of input '${k}' holds \`\${...}\` or \`{{...}}\`, which a default never renders (it would be sent as it is): give a plain value`);
    }
  }

  const triggers = compileTriggers(raw.trigger, (at, message, key) => report(locator.offsetOf(['trigger', ...at], key), 'schema', message), options.publicEnv, buildInputSchema(Object.fromEntries(
    Object.entries(file.inputs ?? {}).map(([k, v]) => [k, InputDeclaration.parse(typeof v === 'string' ? { type: v } : v)]),
  )));
  // The library files it uses are part of its definition: kept with each run, and in its hash.
  const library = [...used].sort().map((f) => options.library!.files.get(f)!).filter(Boolean);
  if (library.length > LIMITS.libraryFilesPerEnsemble) report(0, 'reference', `the ensemble uses ${library.length} files of agents/ and prompts/ (limit ${LIMITS.libraryFilesPerEnsemble}): they are stored with each of its runs`);
  const definitionBytes = src.source.length + library.reduce((n, f) => n + f.source.length + f.file.length, 0);
  if (library.length && definitionBytes > LIMITS.definitionBytes) {
    report(0, 'reference', `the ensemble and the library files it uses are ${definitionBytes} characters together (limit ${LIMITS.definitionBytes}): they are stored with each of its runs; use fewer or smaller components`);
  }
  if (problems.length > 0) return { ok: false, name, problems: sortProblems(problems) };
  const hash = src.hash ?? '';
  return {
    ok: true,
    ensemble: {
      name,
      description: file.description,
      file: src.file,
      source: src.source,
      hash: library.length ? `${hash}+${library.map((f) => f.hash.slice(0, 16)).join('+')}` : hash,
      ...(library.length ? { library } : {}),
      inputs,
      inputSchema: buildInputSchema(inputs),
      ...assembleTree(entries, steps, controls),
      output,
      ...(responses ? { responses } : {}),
      ...(triggers.length ? { triggers } : {}),
      ...(file.version !== undefined ? { version: String(file.version) } : {}),
    },
  };
}

type Report = (offset: number, code: ProblemCode, message: string) => void;

/** Features of the conductor format this runtime does not have: one clear problem each, not a cascade. */
const UNSUPPORTED: Record<string, string> = {
  state: 'steps read earlier steps by name (`${step.output}`)',
  scoring: 'judge an output in a step of its own (a think or code step), and branch on it',
  memory: 'keep what a run must remember with the storage operation (KV)',
  logging: 'every run and step is logged as a structured JSON line (Workers Logs), secrets redacted',
  metrics: 'durations are in each step record (GET /executions/:id) and the logs',
  tracing: 'each run is one execution id across its logs, records and audit',
  notifications: 'a hitl step notifies its approvers (notificationConfig); an http step can call any webhook',
  apiExecutable: 'every ensemble runs with POST /ensembles/:name (the API key)',
  schema: 'declare the run input with `inputs:` (types, required, defaults)',
};

/** An `input:` entry that declares an input (`{ type: string, required: true }`) rather than giving a default. */
const looksLikeDeclaration = (v: unknown): boolean =>
  isPlainObject(v) && typeof v.type === 'string' && Object.keys(v).every((k) => k in InputDeclaration.shape);

/**
 * Where the conductor docs' dialect differs only in spelling, it is accepted (in place, before the
 * schema): `operation: hitl` is `agent: hitl`, `outputs:` is `output:`. Its features that this
 * runtime lacks are one problem each, and are then left out of the schema check.
 */
function acceptDialect(raw: unknown, locator: SourceLocator, report: Report): void {
  if (!isPlainObject(raw)) return;
  // Conductor names an ensemble with `name:`.
  if ('name' in raw) {
    if ('ensemble' in raw) report(locator.offsetOf(['name'], true), 'schema', '`name` and `ensemble` say the same: use one');
    else raw.ensemble = raw.name;
    delete raw.name;
  }
  if ('outputs' in raw) {
    if ('output' in raw) report(locator.offsetOf(['outputs'], true), 'schema', '`outputs` and `output` are synonyms: use one');
    else raw.output = raw.outputs;
    delete raw.outputs;
  }
  // Conductor's top-level `input:`: defaults merged under the request's input (or declarations).
  if ('input' in raw) {
    const given = raw.input;
    if (!isPlainObject(given)) report(locator.offsetOf(['input']), 'schema', 'top-level `input:` gives defaults of the run input: a mapping (`input: { topic: "", limit: 10 }`)');
    else {
      const inputs: Record<string, unknown> = isPlainObject(raw.inputs) ? { ...raw.inputs } : {};
      for (const [k, v] of Object.entries(given)) {
        if (k === '__proto__' || k === 'constructor' || k === 'prototype') report(locator.offsetOf(['input', k], true), 'schema', `'${k}' cannot name an input`);
        else if (Object.hasOwn(inputs, k)) report(locator.offsetOf(['input', k], true), 'schema', `'${k}' is in both \`input:\` and \`inputs:\`: keep one`);
        else if (holdsTemplate(v)) report(locator.offsetOf(['input', k]), 'schema', `the default of input '${k}' holds \`\${...}\` or \`{{...}}\`, which a default never renders (it would be sent as it is): give a plain value`);
        else inputs[k] = looksLikeDeclaration(v) ? v : { default: v };
      }
      raw.inputs = inputs;
    }
    delete raw.input;
  }
  for (const [key, instead] of Object.entries(UNSUPPORTED)) {
    if (key in raw) {
      report(locator.offsetOf([key], true), 'schema', `'${key}:' is a conductor feature this runtime does not support (${instead})`);
      delete raw[key];
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
  // A step sits in a list (`agents.2`, `flow.0`, `agents.1.steps.0`), or is one child (`step`, `map`).
  const inSteps = path[0] === 'agents' || path[0] === 'flow';
  if (inSteps && (typeof path.at(-1) === 'number' || ['step', 'map', 'reduce'].includes(String(path.at(-1))))) return `unknown step key '${key}'${didYouMean(key, Object.keys(Step.shape))}`;
  if (inSteps && path.at(-1) === 'retry') return `unknown retry key '${key}'${didYouMean(key, Object.keys(Retry.shape))}`;
  if (path.length === 2 && path[0] === 'inputs') return `unknown key '${key}' in the declaration of input '${String(path[1])}'${didYouMean(key, Object.keys(InputDeclaration.shape))}`;
  return `unknown key '${key}' (at ${path.join('.')})`;
}


import { AppError, StepError } from '../errors';
import type { Env } from '../env';
import type { CompiledStep, Ensemble } from '../ensemble/ensemble';
import { forEachExpression, renderTemplate, templateAt, writtenParts, type Template, type WrittenPart } from '../expression/template';
import type { ScriptRegistry } from './context';
import { renderInput } from './render-input';
import { withRetry } from './retry';
import { pathOf, type NodeRecord, type RunState, type StepRecord } from './run-state';
import { executionInfo, frameScope, viewsFrom, type Frame, type Records } from './frame';
import type { StepKinds } from './step-kind';
import { publicEnvNames } from './env-secrets';
import { depthOf, jsonBytes, LIMITS } from '../limits';
import { isInfraSecret, redact } from '../secrets';

// One step, run and recorded: its condition, its input and config rendered (within their
// budgets), its kind run (with retries), and its record shaped to what the run may keep.

export interface EngineDeps {
  env: Env;
  scripts: ScriptRegistry;
  /** The kinds of step (src/kinds.ts): what each step's `operation` or `agent` names. */
  kinds: StepKinds;
  /** Called after every finished step, so a run interrupted later continues from there. */
  checkpoint?: (state: RunState) => Promise<void>;
  /** Secret values to replace with `[redacted]` in everything a step records (src/secrets.ts). */
  secrets?: readonly string[];
}

export type StepResult = { record: StepRecord; suspend?: Record<string, unknown> };

export const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Runs one step at `path` in `frame`; never throws (a failure is a failed record). */
export async function runStep(ensemble: Ensemble, step: CompiledStep, path: string, frame: Frame, state: RunState, records: Records, deps: EngineDeps): Promise<StepResult> {
  const started = new Date();
  const scope = frameScope(ensemble, state, deps.env, frame, records);
  const base = { name: step.name, ...(path !== step.name ? { path } : {}), startedAt: started.toISOString() };
  const done = (status: StepRecord['status'], input: unknown, output: unknown, extra: Partial<StepRecord> = {}): StepResult => ({
    record: { ...base, status, input, output, durationMs: Date.now() - started.getTime(), ...extra },
  });
  let input: unknown = null;
  let attempts = 0;
  try {
    if (step.condition && !renderTemplate(step.condition, scope, undefined, 'condition')) return done('skipped', null, null);
    input = renderInput(step.input, scope, ensemble.names);
    const inputBytes = jsonBytes(input);
    if (inputBytes > LIMITS.stepInputBytes) {
      input = null;
      throw new StepError('INPUT_TOO_LARGE', `the input of step '${path}' is ${inputBytes} bytes (limit ${LIMITS.stepInputBytes})`);
    }
    const config = renderTemplate(step.config, scope, undefined, 'config');
    const kind = Object.hasOwn(deps.kinds, step.kind) ? deps.kinds[step.kind] : undefined;
    if (!kind) throw new StepError('KIND_UNAVAILABLE', `${step.key} '${step.kind}' is not available`);
    const written = (at: readonly string[]) => secretFieldAsWritten(step.config, at, publicEnvNames(deps.env));
    const ctx = { step: path, config, input, env: deps.env, execution: executionInfo(state), steps: viewsFrom(ensemble, frame, records), scripts: deps.scripts, origin: state.origin, written };
    const outcome = await withRetry(kind.retries && step.retry ? step.retry : { attempts: 1, backoffMs: 0 }, () => {
      attempts++;
      return kind.run(ctx);
    });
    if ('suspend' in outcome) return { ...done('suspended', input, { status: 'pending' }), suspend: outcome.suspend };
    return done('completed', input, outcome.output ?? null, attempts > 1 ? { attempts } : {});
  } catch (e) {
    const code = e instanceof AppError ? e.code : 'STEP_FAILED';
    return done('failed', input, null, { error: { code, message: errorMessage(e) }, ...(attempts > 1 ? { attempts } : {}) });
  }
}

/** The field at `path` of a config template as written, when it reads a secret (else undefined). */
function secretFieldAsWritten(config: Template, path: readonly string[], publicEnv: ReadonlySet<string>): WrittenPart[] | undefined {
  const field = templateAt(config, path);
  if (!field) return undefined;
  let secret = false;
  forEachExpression(field, [], (expr) => {
    for (const name of expr.envNames) if (!publicEnv.has(name) && !isInfraSecret(name)) secret = true;
  });
  return secret ? writtenParts(field) : undefined;
}

/**
 * A step's result as the run keeps it: too-deep values refused (nothing recursive ever sees them),
 * secrets redacted (but not from the notification config a suspension carries: it is used, never
 * shown), sizes bounded. Never throws: whatever goes wrong here fails the step, not the request.
 */
export function shapeUp(result: StepResult, secrets: readonly string[], state: RunState, name: string): StepResult {
  try {
    for (const [what, value] of [['output', result.record.output], ['request', result.suspend]] as const) {
      if (depthOf(value, LIMITS.valueDepth) > LIMITS.valueDepth) {
        return { record: { ...result.record, status: 'failed', input: null, output: null, error: { code: 'VALUE_TOO_DEEP', message: `the ${what} of step '${name}' is nested more than ${LIMITS.valueDepth} levels deep` } } };
      }
    }
    const suspend = result.suspend && { ...redact(result.suspend, secrets), ...('notification' in result.suspend ? { notification: result.suspend.notification } : {}) };
    const record = bounded(redact(result.record, secrets), state, name, suspend);
    return { record, suspend };
  } catch (e) {
    return { record: { ...result.record, status: 'failed', input: null, output: null, error: { code: 'STEP_FAILED', message: `the result of step '${name}' could not be kept: ${errorMessage(e)}` } } };
  }
}

/**
 * A step record within budget: an output over `stepOutputBytes` is dropped (`OUTPUT_TOO_LARGE`),
 * and a record that would take the whole state over `stateBytes` keeps neither input nor output
 * (`STATE_TOO_LARGE`). Either way the step counts as failed, so `onError` decides what follows.
 */
function bounded(record: StepRecord, state: RunState, name: string, suspend?: Record<string, unknown>): StepRecord {
  const fail = (code: string, message: string, keepInput: boolean): StepRecord => ({
    ...record, status: 'failed', output: null, ...(keepInput ? {} : { input: null }), error: { code, message },
  });
  if (record.output !== null && record.output !== undefined) {
    const bytes = jsonBytes(record.output);
    if (bytes > LIMITS.stepOutputBytes) {
      record = fail('OUTPUT_TOO_LARGE', `step '${name}' produced ${bytes} bytes of output (limit ${LIMITS.stepOutputBytes}); the output was dropped`, true);
    }
  }
  const path = pathOf(record);
  // The records kept so far, less one at the same path (a step run again), plus this one.
  const kept = keptBytes(state.steps);
  const replaced = kept.byPath.get(path);
  const count = kept.byPath.size + (replaced === undefined ? 1 : 0);
  const records = kept.bytes - (replaced ?? 0) + once(recordBytes, record, record) + count - 1;
  // A suspension's approval request (data, prompt, links to issue) is stored with the run too.
  const total = headBytes(state, suspend ? { step: path, request: suspend } : undefined) + records;
  if (total > LIMITS.stateBytes) {
    return fail('STATE_TOO_LARGE', `the run's state would be ${total} bytes after step '${name}' (limit ${LIMITS.stateBytes}); its input and output were dropped`, false);
  }
  return record;
}

// Sizes of what does not change during a run (its input, each kept record), counted once: the
// state's size is checked after every step, and stringifying all of it each time is quadratic.
const baseBytes = new WeakMap<object, number>();
const recordBytes = new WeakMap<object, number>();
const once = (cache: WeakMap<object, number>, key: object, value: unknown) => {
  let n = cache.get(key);
  if (n === undefined) {
    n = jsonBytes(value);
    cache.set(key, n);
  }
  return n;
};

/**
 * The JSON size of `state` with these `steps` (and a suspension), as stored. Exact but for the
 * digits of the cursor and the status word, which may differ from when the input was first sized.
 */
export function stateBytes(state: RunState, steps: StepRecord[], suspension?: { step: string; request: unknown }): number {
  return headBytes(state, suspension) + steps.reduce((sum, r) => sum + once(recordBytes, r, r), 0) + Math.max(0, steps.length - 1);
}

/**
 * The sizes of a run's step records, summed as the list grows: the interpreter appends to it (a
 * record replaced makes a new list), and summing all of it after each step is quadratic.
 */
const keptSums = new WeakMap<StepRecord[], { upTo: number; bytes: number; byPath: Map<string, number> }>();
function keptBytes(steps: StepRecord[]): { bytes: number; byPath: ReadonlyMap<string, number> } {
  let sum = keptSums.get(steps);
  if (!sum) keptSums.set(steps, (sum = { upTo: 0, bytes: 0, byPath: new Map() }));
  for (; sum.upTo < steps.length; sum.upTo++) {
    const r = steps[sum.upTo]!;
    const n = once(recordBytes, r, r);
    const path = pathOf(r);
    sum.bytes += n - (sum.byPath.get(path) ?? 0);
    sum.byPath.set(path, n);
  }
  return sum;
}

/** The size of everything in the state but its step records (`"steps":[]` included). */
function headBytes(state: RunState, suspension?: { step: string; request: unknown }): number {
  const rest = { ...state, steps: [], nodes: undefined, suspensions: undefined, closed: undefined };
  const base = state.input !== null && typeof state.input === 'object' ? once(baseBytes, state.input, rest) : jsonBytes(rest);
  // What changes as the run goes (control nodes' records, the waits to open), each as the
  // `,"key":value` it adds to the stored JSON. A node record changes in place (its status, the
  // choice it made), so it is measured each time but for its large values (a foreach's items, an
  // output), which are replaced, never changed, and counted once; a wait is counted once.
  const extra = (key: string, value: unknown) => (value === undefined ? 0 : jsonBytes({ [key]: value }) - 1);
  const list = (key: string, sizes: number[] | undefined) => (sizes === undefined ? 0 : key.length + 6 + sizes.reduce((a, b) => a + b, 0) + Math.max(0, sizes.length - 1));
  const nodes = state.nodes && Object.entries(state.nodes).map(([path, rec]) => jsonBytes(path) + 1 + nodeBytes(rec));
  const waits = suspension ? [...(state.suspensions ?? []), suspension] : state.suspensions;
  return base + list('nodes', nodes) + list('suspensions', waits?.map((w) => once(recordBytes, w, w))) + extra('closed', state.closed);
}

const valueBytes = new WeakMap<object, number>();

function nodeBytes(rec: NodeRecord): number {
  let big = 0;
  const small: Record<string, unknown> = { ...rec };
  for (const key of ['items', 'output', 'last'] as const) {
    const value = rec[key];
    if (value === null || typeof value !== 'object') continue;
    // Stands in as `0` (one byte) in the small record.
    big += once(valueBytes, value, value) - 1;
    small[key] = 0;
  }
  return big + jsonBytes(small);
}


import { AppError, StepError } from '../errors';
import type { Env } from '../env';
import type { CompiledStep, Ensemble } from '../ensemble/ensemble';
import { forEachExpression, renderTemplate, templateAt, writtenParts, type Template, type WrittenPart } from '../expression/template';
import { publicEnvNames } from './env-secrets';
import { isInfraSecret } from '../secrets';
import type { StepKinds } from './step-kind';
import type { ScriptRegistry } from './context';
import { renderInput } from './render-input';
import { withRetry } from './retry';
import type { RunState, StepRecord } from './run-state';
import { executionInfo, runScope, stepViews } from './scope';
import { depthOf, jsonBytes, LIMITS } from '../limits';
import { redact } from '../secrets';

export interface EngineDeps {
  env: Env;
  scripts: ScriptRegistry;
  /** The kinds of step (src/kinds.ts): what each step's `operation` or `agent` names. */
  kinds: StepKinds;
  /** Called after every finished step, so a run interrupted later continues from here. */
  checkpoint?: (state: RunState) => Promise<void>;
  /** Secret values to replace with `[redacted]` in everything a step records (src/secrets.ts). */
  secrets?: readonly string[];
}

type StepResult = { record: StepRecord; suspend?: Record<string, unknown> };

/**
 * The step loop: takes a run state and runs steps from its cursor until the run completes, fails,
 * or a step suspends. Returns the new state; the input state is not modified.
 */
export async function advance(ensemble: Ensemble, initial: RunState, deps: EngineDeps): Promise<RunState> {
  const state: RunState = structuredClone(initial);
  state.status = 'running';
  const names = new Set(ensemble.steps.map((s) => s.name));
  const secrets = deps.secrets ?? [];
  while (state.cursor < ensemble.steps.length) {
    const step = ensemble.steps[state.cursor]!;
    const result = await runStep(step, state, deps, names);
    // What a step leaves behind is what gets stored, returned, audited and notified: secrets out,
    // and within the size the state can hold (src/limits.ts).
    let { record, suspend } = shapeUp(result, secrets, state, step.name);
    if (suspend && record.status === 'failed') suspend = undefined;
    state.steps = [...state.steps.filter((r) => r.name !== step.name), record];
    if (suspend) {
      state.status = 'suspended';
      state.suspension = { step: step.name, request: suspend };
      return state;
    }
    if (record.status === 'failed' && step.onError === 'fail') {
      state.status = 'failed';
      state.error = { step: step.name, code: record.error!.code, message: record.error!.message };
      return state;
    }
    state.cursor++;
    if (state.cursor < ensemble.steps.length && deps.checkpoint) {
      try {
        await deps.checkpoint(state);
      } catch (e) {
        // The step ran (its side effect happened) but cannot be recorded: fail the run rather than
        // let a watchdog run the step again.
        state.status = 'failed';
        state.error = { step: step.name, code: 'CHECKPOINT_FAILED', message: `the run could not be saved after step '${step.name}': ${errorMessage(e)}` };
        return state;
      }
    }
  }
  return finish(ensemble, state, deps.env, secrets);
}

/**
 * A step's result as the run keeps it: too-deep values refused (nothing recursive ever sees them),
 * secrets redacted (but not from the notification config a suspension carries: it is used, never
 * shown), sizes bounded. Never throws: whatever goes wrong here fails the step, not the request.
 */
function shapeUp(result: StepResult, secrets: readonly string[], state: RunState, name: string): StepResult {
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
  const others = state.steps.filter((r) => r.name !== name);
  // A suspension's approval request (data, prompt, links to issue) is stored with the run too.
  const total = stateBytes(state, [...others, record], suspend ? { step: name, request: suspend } : undefined);
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
  const rest = { ...state, steps: [], suspension: undefined };
  const base = state.input !== null && typeof state.input === 'object' ? once(baseBytes, state.input, rest) : jsonBytes(rest);
  const records = steps.reduce((sum, r) => sum + once(recordBytes, r, r), 0) + Math.max(0, steps.length - 1);
  return base + records + (suspension ? jsonBytes({ suspension }) - 1 : 0);
}

/** Marks the suspended step as completed with `output` and moves the cursor past it. */
export function completeSuspendedStep(state: RunState, output: unknown, at: Date): RunState {
  const next = structuredClone(state);
  const record = next.steps.find((r) => r.name === next.suspension?.step);
  if (record) {
    record.status = 'completed';
    record.output = output;
    record.durationMs = at.getTime() - Date.parse(record.startedAt);
  }
  next.suspension = undefined;
  next.cursor++;
  next.status = 'running';
  return next;
}

function finish(ensemble: Ensemble, state: RunState, env: Env, secrets: readonly string[]): RunState {
  try {
    const output = redact(ensemble.output
      ? renderTemplate(ensemble.output, runScope(state, env), undefined, 'output')
      : Object.fromEntries(state.steps.filter((r) => r.status === 'completed').map((r) => [r.name, r.output])), secrets);
    const bytes = jsonBytes(output);
    if (bytes > LIMITS.stepOutputBytes) throw new StepError('OUTPUT_TOO_LARGE', `the run's output is ${bytes} bytes (limit ${LIMITS.stepOutputBytes})`);
    state.output = output;
    state.status = 'completed';
  } catch (e) {
    state.status = 'failed';
    state.error = redact({ code: e instanceof AppError ? e.code : 'OUTPUT_FAILED', message: `output: ${errorMessage(e)}` }, secrets);
  }
  return state;
}

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function runStep(step: CompiledStep, state: RunState, deps: EngineDeps, names: ReadonlySet<string>): Promise<StepResult> {
  const started = new Date();
  const scope = runScope(state, deps.env);
  const base = { name: step.name, startedAt: started.toISOString() };
  const done = (status: StepRecord['status'], input: unknown, output: unknown, extra: Partial<StepRecord> = {}): StepResult => ({
    record: { ...base, status, input, output, durationMs: Date.now() - started.getTime(), ...extra },
  });
  let input: unknown = null;
  let attempts = 0;
  try {
    if (step.condition && !renderTemplate(step.condition, scope, undefined, 'condition')) return done('skipped', null, null);
    input = renderInput(step.input, scope, names);
    const inputBytes = jsonBytes(input);
    if (inputBytes > LIMITS.stepInputBytes) {
      input = null;
      throw new StepError('INPUT_TOO_LARGE', `the input of step '${step.name}' is ${inputBytes} bytes (limit ${LIMITS.stepInputBytes})`);
    }
    const config = renderTemplate(step.config, scope, undefined, 'config');
    const kind = Object.hasOwn(deps.kinds, step.kind) ? deps.kinds[step.kind] : undefined;
    if (!kind) throw new StepError('KIND_UNAVAILABLE', `${step.key} '${step.kind}' is not available`);
    const written = (path: readonly string[]) => secretFieldAsWritten(step.config, path, publicEnvNames(deps.env));
    const ctx = { step: step.name, config, input, env: deps.env, execution: executionInfo(state), steps: stepViews(state), scripts: deps.scripts, origin: state.origin, written };
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

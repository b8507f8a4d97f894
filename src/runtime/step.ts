import { AppError, StepError } from '../errors';
import type { Env } from '../env';
import type { CompiledStep, Ensemble } from '../ensemble/ensemble';
import { forEachExpression, renderTemplate, STEP_INPUT, templateAt, writtenParts, type Template, type WrittenPart } from '../expression/template';
import type { ScriptRegistry } from './context';
import { renderInput } from './render-input';
import { withRetry } from './retry';
import { cacheKeyOf, readCache, withinTime, writeCache } from './step-policies';
import { pathOf, type RunState, type StateChanges, type StepRecord } from './run-state';
import type { StateSize } from './state-size';
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
  checkpoint?: (state: RunState, changes?: StateChanges) => Promise<void>;
  /** Secret values to replace with `[redacted]` in everything a step records (src/secrets.ts). */
  secrets?: readonly string[];
}

export type StepResult = { record: StepRecord; suspend?: Record<string, unknown> };

export const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Runs one step at `path` in `frame`; never throws (a failure is a failed record). */
export async function runStep(ensemble: Ensemble, step: CompiledStep, path: string, frame: Frame, state: RunState, records: Records, deps: EngineDeps): Promise<StepResult> {
  const started = new Date();
  const scope = frameScope(ensemble, state, deps.env, frame, records);
  const base = { name: step.name, ...(path !== step.name ? { path } : {}), ...(step.agent ? { agent: step.agent } : {}), startedAt: started.toISOString() };
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
    // Components in the config read the step's own input (STEP_INPUT), nothing else.
    const config = renderTemplate(step.config, (name) => (name === STEP_INPUT ? input : scope(name)), undefined, 'config');
    const kind = Object.hasOwn(deps.kinds, step.kind) ? deps.kinds[step.kind] : undefined;
    if (!kind) throw new StepError('KIND_UNAVAILABLE', `${step.key} '${step.kind}' is not available`);
    const written = (at: readonly string[]) => secretFieldAsWritten(step.config, at, publicEnvNames(deps.env));
    const ctx = { step: path, config, input, env: deps.env, execution: executionInfo(state), steps: viewsFrom(ensemble, frame, records), scripts: deps.scripts, origin: state.origin, written };
    // A cached output, unless bypassed (the step then runs, and refreshes it).
    let cacheKey: string | undefined;
    if (step.cache) {
      const identity = step.cache.key ? renderTemplate(step.cache.key, scope, undefined, 'cache.key') : { input, config };
      // The definition's hash too: an edited step never gets what its earlier version cached.
      cacheKey = await cacheKeyOf(`${ensemble.name}\n${ensemble.hash}`, step.name, identity, deps.secrets ?? []);
      const bypass = step.cache.bypass ? !!renderTemplate(step.cache.bypass, scope, undefined, 'cache.bypass') : false;
      const hit = bypass ? undefined : await readCache(deps.env, cacheKey);
      if (hit) return done('completed', input, hit.output ?? null, { cached: true });
    }
    let outcome;
    try {
      outcome = await withRetry(kind.retries && step.retry ? step.retry : { attempts: 1, backoffMs: 0 }, () => {
        attempts++;
        return withinTime(step.timeoutMs, path, () => kind.run(ctx));
      });
    } catch (e) {
      // A time-out with a fallback is an output, not a failure.
      if (!(e instanceof StepError && e.code === 'STEP_TIMEOUT' && step.onTimeout && !step.onTimeout.error)) throw e;
      const fallback = step.onTimeout.fallback ? renderTemplate(step.onTimeout.fallback, scope, undefined, 'onTimeout.fallback') : null;
      return done('completed', input, fallback ?? null, { timedOut: true, ...(attempts > 1 ? { attempts } : {}) });
    }
    if ('suspend' in outcome) return { ...done('suspended', input, { status: 'pending' }), suspend: outcome.suspend };
    // Kept as the run keeps it: redacted.
    if (cacheKey && step.cache) await writeCache(deps.env, cacheKey, redact(outcome.output ?? null, deps.secrets ?? []), step.cache.ttl);
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
export function shapeUp(result: StepResult, secrets: readonly string[], size: StateSize, name: string): StepResult {
  try {
    for (const [what, value] of [['output', result.record.output], ['request', result.suspend]] as const) {
      if (depthOf(value, LIMITS.valueDepth) > LIMITS.valueDepth) {
        return { record: { ...result.record, status: 'failed', input: null, output: null, error: { code: 'VALUE_TOO_DEEP', message: `the ${what} of step '${name}' is nested more than ${LIMITS.valueDepth} levels deep` } } };
      }
    }
    const suspend = result.suspend && { ...redact(result.suspend, secrets), ...('notification' in result.suspend ? { notification: result.suspend.notification } : {}) };
    const record = bounded(redact(result.record, secrets), size, name, suspend);
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
function bounded(record: StepRecord, size: StateSize, name: string, suspend?: Record<string, unknown>): StepRecord {
  const fail = (code: string, message: string, keepInput: boolean): StepRecord => ({
    ...record, status: 'failed', output: null, ...(keepInput ? {} : { input: null }), error: { code, message },
  });
  if (record.output !== null && record.output !== undefined) {
    const bytes = jsonBytes(record.output);
    if (bytes > LIMITS.stepOutputBytes) {
      record = fail('OUTPUT_TOO_LARGE', `step '${name}' produced ${bytes} bytes of output (limit ${LIMITS.stepOutputBytes}); the output was dropped`, true);
    }
  }
  // A suspension's approval request (data, prompt, links to issue) is stored with the run too.
  const total = size.withStep(record, suspend ? { step: pathOf(record), request: suspend } : undefined);
  if (total > LIMITS.stateBytes) {
    return fail('STATE_TOO_LARGE', `the run's state would be ${total} bytes after step '${name}' (limit ${LIMITS.stateBytes}); its input and output were dropped`, false);
  }
  return record;
}

import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Env } from '../env';
import type { Ensemble } from '../ensemble/ensemble';
import { newExecutionId } from './execution-id';
import type { ScriptRegistry } from './context';
import type { StepKinds } from './step-kind';
import { advance } from './interpreter';
import { pathOf, type RunState } from './run-state';
import { runSecrets } from './env-secrets';
import { log } from '../log';
import { UnavailableError } from '../errors';
import type { Begun } from '../hitl/hitl-state';

export interface StartOptions {
  env: Env;
  scripts: ScriptRegistry;
  kinds: StepKinds;
  origin: string;
  /** The execution id to use (kept with an Idempotency-Key); a new one otherwise. */
  executionId?: string;
  /** Called after every step the Worker runs (an Idempotency-Key's claim is renewed). */
  afterStep?: () => Promise<unknown>;
  /** How the run was started (default: the API). */
  trigger?: RunState['trigger'];
}

/** The API's view of a run that finished (or failed) without suspending. */
export function runSummary(state: RunState) {
  return {
    executionId: state.executionId,
    ensemble: state.ensemble,
    status: state.status,
    trigger: state.trigger ?? { type: 'api' },
    output: state.output ?? null,
    ...(state.response ? { response: state.response } : {}),
    steps: state.steps.map((r) => ({ ...r, path: pathOf(r) })),
    ...(state.error ? { error: state.error } : {}),
  };
}

/**
 * Starts a run in the Worker. A run that ends without suspending is answered whole and nothing is
 * stored; a suspended run is handed to its HITLState object, which owns it from then on.
 */
export async function startRun(ensemble: Ensemble, input: Record<string, unknown>, options: StartOptions): Promise<{ status: ContentfulStatusCode; body: unknown; headers?: Record<string, string>; state: RunState }> {
  // One log line per run and request (run-suspended or run-finished), not one per phase: each
  // line costs the request, and a line at the end can carry the duration and the outcome.
  const started = Date.now();
  const initial: RunState = {
    executionId: options.executionId ?? newExecutionId(),
    ensemble: ensemble.name,
    hash: ensemble.hash,
    input,
    startedAt: new Date().toISOString(),
    origin: options.origin,
    ...(options.trigger && options.trigger.type !== 'api' ? { trigger: options.trigger } : {}),
    status: 'running',
    steps: [],
  };
  const afterStep = options.afterStep;
  const state = await advance(ensemble, initial, { env: options.env, scripts: options.scripts, kinds: options.kinds, secrets: runSecrets(options.env), ...(afterStep ? { checkpoint: async () => { await afterStep(); } } : {}) });
  if (state.status === 'suspended') {
    const stub = options.env.HITL_STATE.get(options.env.HITL_STATE.idFromName(state.executionId));
    let begun: Begun;
    try {
      begun = (await stub.begin({ file: ensemble.file, source: ensemble.source, hash: ensemble.hash, ...(ensemble.library ? { library: ensemble.library } : {}) }, state)) as Begun;
    } catch (e) {
      // The object kept nothing (begin writes all or nothing) or, if only its answer was lost, holds
      // the run: either way the client learns which execution it was, and that it may retry (with
      // the same Idempotency-Key it gets this execution back, whichever happened).
      log('run-not-stored', { executionId: state.executionId, ensemble: ensemble.name, error: e instanceof Error ? e.message : String(e) }, 'warn');
      throw new UnavailableError('RUN_NOT_STORED', 'the run suspended but could not be stored just now: send the request again (with an Idempotency-Key header to be sure of one run)', { executionId: state.executionId }, 1, { cause: e });
    }
    log('run-suspended', { executionId: state.executionId, ensemble: ensemble.name, step: state.suspensions?.[0]?.step, durationMs: Date.now() - started });
    // `pending`: the oldest request (its shape from before runs could wait on several); `requests`: all of them.
    return { status: 202, body: { executionId: state.executionId, ensemble: ensemble.name, status: 'suspended', pending: begun.pending, requests: begun.requests }, state };
  }
  log('run-finished', { executionId: state.executionId, ensemble: ensemble.name, status: state.status, durationMs: Date.now() - started, ...(state.error ? { code: state.error.code, step: state.error.step } : {}) });
  if (state.status === 'failed') {
    const error = state.error!;
    return {
      status: 422,
      body: { ...runSummary(state), error: { code: 'STEP_FAILED', message: `step '${error.step ?? 'output'}' failed: ${error.message}`, details: error } },
      state,
    };
  }
  // An output block answers with its own status, headers and body (the execution id in a header).
  if (state.response) {
    return { status: state.response.status as ContentfulStatusCode, body: state.output ?? null, headers: { ...state.response.headers, 'x-execution-id': state.executionId }, state };
  }
  return { status: 200, body: runSummary(state), state };
}

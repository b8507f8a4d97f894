import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Env } from '../env';
import type { Ensemble } from '../ensemble/ensemble';
import { UnavailableError } from '../errors';
import { flushFlatRuns, indexFlatRun } from '../executions/flat-runs';
import { digestToken } from '../hitl/token';
import type { Claim } from '../hitl/start-claim';
import { log } from '../log';
import type { ScriptRegistry } from '../runtime/context';
import { startRun } from '../runtime/start-run';
import type { RunState } from '../runtime/run-state';
import type { StepKinds } from '../runtime/step-kind';
import { canonicalJson } from '../runtime/canonical-json';
import type { StartedBy } from './schema';

// Starting a run at most once per key: an API call with an Idempotency-Key, a scheduled time, a
// webhook delivery id, a queue message id, an email's Message-ID. The key is claimed in an object
// named after (ensemble, key) before the run starts; a second delivery gets the first answer.

/** The object that remembers a key of an ensemble (not the execution's own object). */
const claimStub = (env: Env, ensemble: string, key: string) => env.HITL_STATE.get(env.HITL_STATE.idFromName(`idempotency\n${ensemble}\n${key}`));

export interface StartDeps {
  env: Env;
  scripts: ScriptRegistry;
  kinds: StepKinds;
  origin: string;
  /** Work that may finish after the answer (the index row of a run that never waited). */
  waitUntil?: (work: Promise<unknown>) => void;
}

export type StartOutcome =
  | { kind: 'started'; status: ContentfulStatusCode; body: unknown; headers?: Record<string, string>; state: RunState }
  /** The key was claimed before: its first answer, a start still under way, or another input. */
  | { kind: 'claimed-before'; claim: Exclude<Claim, { kind: 'claimed' }> };

/**
 * Starts `ensemble` with `input` (already validated) for `startedBy`, once per `key` when one is
 * given. A start whose storage fails releases the key (the same key may run again) and throws.
 */
export async function startOnce(ensemble: Ensemble, input: Record<string, unknown>, startedBy: { type: StartedBy; key?: string; detail?: string }, deps: StartDeps): Promise<StartOutcome> {
  const key = startedBy.key;
  const stub = key === undefined ? undefined : claimStub(deps.env, ensemble.name, key);
  let claim: Claim | undefined;
  if (stub) {
    try {
      claim = (await stub.claimStart(await digestToken(canonicalJson(input)))) as Claim;
    } catch (e) {
      throw new UnavailableError('START_UNAVAILABLE', 'the start could not be claimed just now: send it again', undefined, 1, { cause: e });
    }
    if (claim.kind !== 'claimed') return { kind: 'claimed-before', claim };
  }
  let result;
  try {
    result = await startRun(ensemble, input, {
      env: deps.env, scripts: deps.scripts, kinds: deps.kinds, origin: deps.origin,
      executionId: claim?.executionId,
      trigger: { type: startedBy.type, ...(startedBy.detail ? { detail: startedBy.detail } : {}) },
      // A long start keeps its key: the claim is renewed after every step.
      afterStep: stub ? () => stub.renewStart().catch(() => undefined) : undefined,
    });
  } catch (e) {
    // Nothing was kept (src/hitl/hitl-state.ts begin): the key may run again at once.
    if (stub) await stub.releaseStart().catch(() => undefined);
    throw e;
  }
  if (stub && claim) await remember(stub, claim.executionId, result.status, result.body, result.headers);
  // A run that never suspended is in no Durable Object: the index is its only trace. Written
  // after the answer where it can be (a failure here costs the listing, never the run).
  if (result.status !== 202 && deps.env.DB) {
    const work = indexFlatRun(deps.env.DB, result.state);
    if (deps.waitUntil) deps.waitUntil(work);
    else {
      await work;
      await flushFlatRuns(deps.env.DB);
    }
  }
  return { kind: 'started', ...result };
}

/**
 * Keeps the first answer for retries. The run is done whatever happens here: a failure is tried
 * again twice, then logged; the answer still goes out (a retry within the lease is told to wait).
 */
async function remember(stub: ReturnType<typeof claimStub>, executionId: string, status: number, body: unknown, headers?: Record<string, string>): Promise<void> {
  const text = JSON.stringify(body);
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await stub.finishStart(status, text, headers);
      return;
    } catch (e) {
      if (attempt === 3) log('idempotency-not-kept', { executionId, error: e instanceof Error ? e.message : String(e) }, 'warn');
    }
  }
}

import { Hono } from 'hono';
import { z } from 'zod';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Context } from 'hono';
import { AppError, UnavailableError, ValidationError } from '../errors';
import { log } from '../log';
import { LIMITS } from '../limits';
import { digestToken } from '../hitl/token';
import { startRun } from '../runtime/start-run';
import { flushFlatRuns, indexFlatRun } from '../executions/flat-runs';
import { after } from './after';
import { issueList, readBody } from './body';
import type { AppEnv } from './types';

const RunInput = z.record(z.string(), z.unknown(), { error: 'the run input must be a JSON object' });

/** An `Idempotency-Key` header as given (printable ASCII, at most 255 characters), or 400. */
function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.length === 0 || header.length > LIMITS.idempotencyKeyChars || !/^[\x21-\x7e]+$/.test(header)) {
    throw new AppError('INVALID_IDEMPOTENCY_KEY', `Idempotency-Key must be 1 to ${LIMITS.idempotencyKeyChars} printable ASCII characters without spaces`, 400);
  }
  return header;
}

type ClaimStub = ReturnType<typeof idempotencyStub>;

/** The object that remembers an Idempotency-Key of an ensemble (not the execution's own object). */
const idempotencyStub = (env: AppEnv['Bindings'], ensemble: string, key: string) => env.HITL_STATE.get(env.HITL_STATE.idFromName(`idempotency\n${ensemble}\n${key}`));

/** Claims a start for its key, or says how the first one went; 503 when that cannot be asked. */
async function claimStart(env: AppEnv['Bindings'], ensemble: string, key: string, input: unknown) {
  const stub = idempotencyStub(env, ensemble, key);
  try {
    return { ...(await stub.claimStart(await digestToken(canonicalJson(input)))), stub };
  } catch (e) {
    throw new UnavailableError('START_UNAVAILABLE', 'the Idempotency-Key could not be checked just now: send the request again', undefined, 1, { cause: e });
  }
}

function claimAnswer(c: Context<AppEnv>, ensemble: string, claim: Exclude<Awaited<ReturnType<typeof claimStart>>, { kind: 'claimed' }>) {
  const details = { executionId: claim.executionId };
  if (claim.kind === 'replay') return c.body(claim.body, claim.status as ContentfulStatusCode, { ...claim.headers, 'content-type': 'application/json', 'idempotent-replayed': 'true' });
  if (claim.kind === 'mismatch') throw new AppError('IDEMPOTENCY_KEY_REUSED', `this Idempotency-Key was used for another input of '${ensemble}': use a new key for a new run`, 422, details);
  return c.json({ error: { code: 'IDEMPOTENCY_IN_PROGRESS', message: 'a start with this Idempotency-Key is still running: ask again shortly', details } }, 409, { 'retry-after': String(claim.retryAfterS) });
}

/**
 * Keeps the first answer for retries. The run is done whatever happens here: a failure is tried
 * again twice, then logged; the answer still goes out (a retry within the lease is told to wait).
 */
async function rememberAnswer(stub: ClaimStub, executionId: string, status: number, body: unknown, headers?: Record<string, string>): Promise<void> {
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

/** JSON with object keys sorted: one input, however its keys are ordered, is one body. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
    : v));
}

/** `/ensembles`: list, show, run. */
export const ensembleRoutes = new Hono<AppEnv>()
  .get('/', (c) => {
    const ensembles = c.var.registry.list().map((e) => ({
      name: e.name,
      file: e.file,
      description: e.ensemble?.description,
      valid: e.problems.length === 0,
      steps: e.ensemble?.steps.map((s) => s.name),
      ...(e.problems.length ? { problems: e.problems } : {}),
    }));
    return c.json({ ensembles });
  })
  .get('/:name', (c) => {
    const e = c.var.registry.get(c.req.param('name'));
    return c.json({
      name: e.name,
      description: e.description,
      ...(e.version !== undefined ? { version: e.version } : {}),
      file: e.file,
      hash: e.hash,
      inputs: e.inputs,
      steps: e.steps.map((s) => ({ name: s.name, [s.key]: s.kind, ...(s.agent ? { agent: s.agent } : {}) })),
      ...(e.library ? { library: e.library.map((f) => f.file) } : {}),
      source: e.source,
    });
  })
  .post('/:name', async (c) => {
    const ensemble = c.var.registry.get(c.req.param('name'));
    const body = await readBody(c, RunInput);
    const input = ensemble.inputSchema.safeParse(body);
    if (!input.success) throw new ValidationError(`input does not match the inputs of '${ensemble.name}'`, issueList(input.error));
    const key = idempotencyKey(c.req.header('idempotency-key'));
    const claim = key === undefined ? undefined : await claimStart(c.env, ensemble.name, key, input.data);
    if (claim && claim.kind !== 'claimed') return claimAnswer(c, ensemble.name, claim);
    let result;
    try {
      result = await startRun(ensemble, input.data, {
        env: c.env,
        scripts: c.var.registry.scripts,
        kinds: c.var.registry.kinds,
        origin: new URL(c.req.url).origin,
        executionId: claim?.executionId,
        // A long start keeps its key: the claim is renewed after every step.
        afterStep: claim ? () => claim.stub.renewStart().catch(() => undefined) : undefined,
      });
    } catch (e) {
      // Nothing was kept (src/hitl/hitl-state.ts begin): the key may run again at once.
      if (claim) await claim.stub.releaseStart().catch(() => undefined);
      throw e;
    }
    if (claim) await rememberAnswer(claim.stub, claim.executionId, result.status, result.body, result.headers);
    // A run that never suspended is in no Durable Object: the index is its only trace. Written
    // after the response (a failure here costs the listing, never the run).
    if (result.status !== 202 && c.env.DB) {
      const waiting = after(c, indexFlatRun(c.env.DB, result.state));
      // No execution context to wait for the batch after the answer (an app called directly):
      // the row is written now instead (its batch writes it again; that insert does nothing).
      if (waiting) await flushFlatRuns(c.env.DB);
    }
    return c.json(result.body, result.status, result.headers);
  });

import { Hono } from 'hono';
import { z } from 'zod';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError, ValidationError } from '../errors';
import { LIMITS } from '../limits';
import { idempotentExecutionId } from '../runtime/execution-id';
import { digestToken } from '../hitl/token';
import { executionStub } from './stub';
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
      file: e.file,
      hash: e.hash,
      inputs: e.inputs,
      steps: e.steps.map((s) => ({ name: s.name, ...(s.kind === 'agent' ? { agent: s.agent } : { operation: s.operation }) })),
      source: e.source,
    });
  })
  .post('/:name', async (c) => {
    const ensemble = c.var.registry.get(c.req.param('name'));
    const body = await readBody(c, RunInput);
    const input = ensemble.inputSchema.safeParse(body);
    if (!input.success) throw new ValidationError(`input does not match the inputs of '${ensemble.name}'`, issueList(input.error));
    const key = idempotencyKey(c.req.header('idempotency-key'));
    let claimed: { executionId: string; stub: ReturnType<typeof executionStub> } | undefined;
    if (key !== undefined) {
      // Every retry with this key reaches the same execution, whose object says how the first went.
      const executionId = await idempotentExecutionId(ensemble.name, key);
      const stub = executionStub(c.env, executionId);
      const claim = await stub.claimStart(executionId, await digestToken(JSON.stringify(input.data)));
      if (claim.kind === 'replay') return c.body(claim.body, claim.status as ContentfulStatusCode, { 'content-type': 'application/json', 'idempotent-replayed': 'true' });
      if (claim.kind === 'mismatch') throw new AppError('IDEMPOTENCY_KEY_REUSED', `this Idempotency-Key was used for another input of '${ensemble.name}': use a new key for a new run`, 422, { executionId });
      if (claim.kind === 'busy') {
        return c.json({ error: { code: 'IDEMPOTENCY_IN_PROGRESS', message: 'a start with this Idempotency-Key is still running: ask again shortly', details: { executionId } } }, 409, { 'retry-after': String(claim.retryAfterS) });
      }
      claimed = { executionId, stub };
    }
    let result;
    try {
      result = await startRun(ensemble, input.data, {
        env: c.env,
        scripts: c.var.registry.scripts,
        origin: new URL(c.req.url).origin,
        executionId: claimed?.executionId,
      });
    } catch (e) {
      // Nothing was kept (src/hitl/hitl-state.ts begin): the key may run again at once.
      if (claimed) await claimed.stub.releaseStart().catch(() => undefined);
      throw e;
    }
    if (claimed && result.status !== 202) await claimed.stub.finishStart(result.status, result.body);
    // A run that never suspended is in no Durable Object: the index is its only trace. Written
    // after the response (a failure here costs the listing, never the run).
    if (result.status !== 202 && c.env.DB) {
      const waiting = after(c, indexFlatRun(c.env.DB, result.state));
      // No execution context to wait for the batch after the answer (an app called directly):
      // the row is written now instead (its batch writes it again; that insert does nothing).
      if (waiting) await flushFlatRuns(c.env.DB);
    }
    return c.json(result.body, result.status);
  });

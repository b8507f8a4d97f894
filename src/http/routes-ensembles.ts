import { Hono } from 'hono';
import { z } from 'zod';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Context } from 'hono';
import { AppError, ValidationError } from '../errors';
import { LIMITS } from '../limits';
import { startOnce, type StartOutcome } from '../triggers/start-once';
import { waitUntilOf } from './after';
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

function claimAnswer(c: Context<AppEnv>, ensemble: string, claim: Extract<StartOutcome, { kind: 'claimed-before' }>['claim']) {
  const details = { executionId: claim.executionId };
  if (claim.kind === 'replay') return c.body(claim.body, claim.status as ContentfulStatusCode, { ...claim.headers, 'content-type': 'application/json', 'idempotent-replayed': 'true' });
  if (claim.kind === 'mismatch') throw new AppError('IDEMPOTENCY_KEY_REUSED', `this Idempotency-Key was used for another input of '${ensemble}': use a new key for a new run`, 422, details);
  return c.json({ error: { code: 'IDEMPOTENCY_IN_PROGRESS', message: 'a start with this Idempotency-Key is still running: ask again shortly', details } }, 409, { 'retry-after': String(claim.retryAfterS) });
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
      // How runs start besides this API (secrets by name only).
      triggers: e.triggers ?? [],
      source: e.source,
    });
  })
  .post('/:name', async (c) => {
    const ensemble = c.var.registry.get(c.req.param('name'));
    const body = await readBody(c, RunInput);
    const input = ensemble.inputSchema.safeParse(body);
    if (!input.success) throw new ValidationError(`input does not match the inputs of '${ensemble.name}'`, issueList(input.error));
    const key = idempotencyKey(c.req.header('idempotency-key'));
    // `api:`: an API key holder cannot pre-claim a webhook's, a queue's or a mail's key.
    const result = await startOnce(ensemble, input.data, { type: 'api', key: key === undefined ? undefined : `api:${key}` }, {
      env: c.env, scripts: c.var.registry.scripts, kinds: c.var.registry.kinds, origin: new URL(c.req.url).origin,
      waitUntil: waitUntilOf(c),
    });
    if (result.kind === 'claimed-before') return claimAnswer(c, ensemble.name, result.claim);
    return c.json(result.body, result.status, result.headers);
  });

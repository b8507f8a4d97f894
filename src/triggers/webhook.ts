import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError, ExpressionError, NotFoundError, ValidationError } from '../errors';
import { isApiKey, bearerKey } from '../http/auth';
import { jsonOf, issueList } from '../http/body';
import { waitUntilOf } from '../http/after';
import type { AppEnv } from '../http/types';
import { LIMITS } from '../limits';
import { log } from '../log';
import { secretName } from './schema';
import { startOnce } from './start-once';
import { verifiers } from './verify';
import { publishEvent } from '../events/publish';
import { digestToken } from '../hitl/token';
import { compileTemplate, renderTemplate, type TemplateProblem } from '../expression/template';


// `POST /hooks/<path>`: a third party starts a run (`trigger: - type: webhook`). The sender is
// verified on the raw body before anything parses it; the body is the run's input; a redelivery
// (the same delivery id) starts nothing new and answers the first run.

/** The id a sender gives a delivery, for the scheme (else an `Idempotency-Key` header). */
function deliveryId(scheme: string | undefined, headers: Headers, body: unknown): string | undefined {
  const own = scheme === 'github' ? headers.get('x-github-delivery')
    : scheme === 'stripe' && body !== null && typeof body === 'object' && typeof (body as { id?: unknown }).id === 'string' ? (body as { id: string }).id
    : scheme === 'slack' && body !== null && typeof body === 'object' && typeof (body as { event_id?: unknown }).event_id === 'string' ? (body as { event_id: string }).event_id
    : undefined;
  const id = own ?? headers.get('idempotency-key') ?? undefined;
  if (id === undefined) return undefined;
  if (id.length === 0 || id.length > LIMITS.idempotencyKeyChars || !/^[\x21-\x7e]+$/.test(id)) throw new AppError('INVALID_DELIVERY_ID', 'the delivery id (or Idempotency-Key) must be 1 to 255 printable ASCII characters', 400);
  return id;
}

export const webhookRoutes = new Hono<AppEnv>().post('/*', async (c) => {
  const path = new URL(c.req.url).pathname;
  const found = c.var.registry.triggered('webhook').find((t) => t.trigger.path === path);
  if (!found) throw new NotFoundError(`webhook '${path.slice(0, 200)}'`);
  const { ensemble, trigger } = found;
  // Read whole and bounded (the body limit of this route), then verified as it came.
  const body = new Uint8Array(await c.req.arrayBuffer());
  const auth = trigger.auth;
  if (auth?.type === 'bearer') {
    const presented = bearerKey(c.req.header('authorization'));
    if (!presented || !c.env.API_KEY || !isApiKey(presented, c.env.API_KEY)) throw new AppError('UNAUTHORIZED', 'this webhook needs the API key as a bearer token', 401);
  } else if (auth) {
    const secret = c.env[secretName(auth.secret)];
    if (typeof secret !== 'string' || secret === '') {
      log('webhook-secret-missing', { ensemble: ensemble.name, path, secret: secretName(auth.secret) }, 'error');
      throw new AppError('WEBHOOK_NOT_CONFIGURED', 'this webhook cannot verify senders yet (its secret is not set)', 503);
    }
    const ok = await verifiers[auth.type]({ headers: c.req.raw.headers, body, secret, toleranceS: auth.tolerance ?? 300, nowS: Math.floor(Date.now() / 1000) });
    if (!ok) {
      log('webhook-refused', { ensemble: ensemble.name, path, scheme: auth.type }, 'warn');
      throw new AppError('BAD_SIGNATURE', 'the signature of this request does not verify', 401);
    }
  }
  // Slack sends its commands and interactions as a form; the signed JSON senders (GitHub, Stripe,
  // HMAC) are read as JSON whatever the request says (the signature covers bytes, not their type).
  const type = c.req.header('content-type') ?? '';
  const formAllowed = !auth || auth.type === 'slack' || auth.type === 'bearer';
  const raw = formAllowed && /application\/x-www-form-urlencoded/i.test(type)
    ? Object.fromEntries([...new URLSearchParams(new TextDecoder().decode(body)).entries()].filter(([k]) => k !== '__proto__'))
    : jsonOf(body);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ValidationError('a webhook body is a JSON object (the run\'s input)', []);
  if (trigger.emit) {
    // This webhook wakes waits instead of starting a run: the body is the event's data.
    const key = emittedKey(trigger.emit.key, raw);
    const published = await publishEvent(c.env, trigger.emit.event, key, raw, { id: await emittedId(path, auth?.type, c.req.raw.headers, raw, body), source: `webhook:${path}` });
    return c.json(published, 202);
  }
  const input = ensemble.inputSchema.safeParse(raw);
  if (!input.success) throw new ValidationError(`input does not match the inputs of '${ensemble.name}'`, issueList(input.error));
  const id = deliveryId(auth?.type === 'bearer' ? undefined : auth?.type, c.req.raw.headers, raw);
  // Keyed by the path too: a public hook of the same ensemble cannot pre-claim a signed one's ids.
  const key = id === undefined ? undefined : `webhook:${path}:${id}`;
  const result = await startOnce(ensemble, input.data, { type: 'webhook', key, detail: path }, {
    env: c.env, scripts: c.var.registry.scripts, kinds: c.var.registry.kinds, origin: new URL(c.req.url).origin, waitUntil: waitUntilOf(c),
  });
  if (result.kind === 'claimed-before') {
    // A redelivery: nothing new starts; the first run is named.
    const claim = result.claim;
    if (claim.kind === 'busy') return c.json({ error: { code: 'DELIVERY_IN_PROGRESS', message: 'this delivery is still being started: send it again shortly', details: { executionId: claim.executionId } } }, 409, { 'retry-after': String(claim.retryAfterS) });
    if (claim.kind === 'mismatch') throw new AppError('DELIVERY_ID_REUSED', 'this delivery id was used for another body: a new delivery needs a new id', 422, { executionId: claim.executionId });
    if (claim.kind === 'replay' && trigger.respond === 'sync') return c.body(claim.body, claim.status as ContentfulStatusCode, { ...claim.headers, 'content-type': 'application/json', 'idempotent-replayed': 'true' });
    return c.json({ executionId: claim.executionId, ensemble: ensemble.name, redelivery: true }, 202);
  }
  if (trigger.respond === 'sync' && result.status !== 202) return c.json(result.body, result.status, result.headers);
  return c.json({ executionId: result.state.executionId, ensemble: ensemble.name, status: result.state.status }, 202);
});

/**
 * An emitting webhook's event key, rendered from its body (`input`); 422 when the body lacks any
 * part of it (`o-${input.order}` without an order is no key, not the key `o-`).
 */
function emittedKey(source: string, body: unknown): unknown {
  const problems: TemplateProblem[] = [];
  const template = compileTemplate(source, [], problems);
  const scope = (name: string) => (name === 'input' ? body : undefined);
  const missing = () => new AppError('EVENT_KEY_MISSING', `this body gives no event key (${source.slice(0, 100)})`, 422);
  try {
    if (problems.length) throw missing();
    const parts = template.kind === 'interp' ? template.parts.filter((p) => typeof p !== 'string') : [];
    for (const expr of parts) {
      const v = renderTemplate({ kind: 'expr', expr }, scope);
      if (v === undefined || v === null || v === '') throw missing();
    }
    const key = renderTemplate(template, scope);
    if (key === undefined || key === null || key === '') throw missing();
    return key;
  } catch (e) {
    if (!(e instanceof ExpressionError)) throw e;
    throw new AppError('EVENT_KEY_MISSING', `the event key (${source.slice(0, 100)}) could not be read from this body: ${e.message}`, 422);
  }
}

/**
 * The id of an event a webhook emits. GitHub and HMAC signatures carry no time, so a captured
 * request could be sent again: their id is the signed body's digest (the same body is the same
 * event, whatever delivery header comes with it). Stripe and Slack sign a timestamp (a replay is
 * refused once it is older than the tolerance): their own event id, as for runs. With the API key,
 * an Idempotency-Key if given. Hashed with the path, so it fits any delivery id and a hook's ids
 * are its own.
 */
async function emittedId(path: string, scheme: string | undefined, headers: Headers, raw: unknown, body: Uint8Array): Promise<string | undefined> {
  let own: string | undefined;
  if (scheme === 'github' || scheme === 'hmac-sha256') own = `body:${await digestToken(new TextDecoder().decode(body))}`;
  else own = deliveryId(scheme === 'bearer' ? undefined : scheme, headers, raw);
  return own === undefined ? undefined : `webhook-${(await digestToken(`${path}\n${own}`)).slice(0, 48)}`;
}

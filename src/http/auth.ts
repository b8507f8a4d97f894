import type { MiddlewareHandler } from 'hono';
import { AppError, UnauthorizedError } from '../errors';
import { sha256 } from '../hitl/token';
import type { AppEnv } from './types';

// The digest of the configured key, per key (an isolate's env does not change): every API call
// compares against it, so it is computed once, not twice per request.
let known: { key: string; digest: Promise<Uint8Array> } | undefined;

/**
 * Whether `presented` is the API key `key`. Digests first: equal length, and the constant-time
 * comparison says nothing about the key (WebCrypto: native, and far cheaper than node:crypto's
 * stream-shaped Hash on every request).
 */
export async function isApiKey(presented: string, key: string): Promise<boolean> {
  if (known?.key !== key) known = { key, digest: sha256(key) };
  const [a, b] = await Promise.all([sha256(presented), known.digest]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** The key of `Authorization: Bearer <key>`, or undefined. */
export const bearerKey = (header: string | undefined) => /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]!.trim();

/** Management routes need `Authorization: Bearer <API_KEY>`; with no API_KEY set, they are closed. */
export const requireApiKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = c.env.API_KEY;
  if (!key) throw new AppError('API_KEY_NOT_CONFIGURED', 'API_KEY is not set: management routes are closed', 503);
  const presented = bearerKey(c.req.header('authorization'));
  if (presented === undefined || !(await isApiKey(presented, key))) throw new UnauthorizedError();
  await next();
};

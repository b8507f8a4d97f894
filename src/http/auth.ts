import type { MiddlewareHandler } from 'hono';
import { AppError, UnauthorizedError } from '../errors';
import type { AppEnv } from './types';

const encoder = new TextEncoder();
// The configured key's bytes, per key (an isolate's env does not change): every API call
// compares against them, so they are encoded once.
let known: { key: string; bytes: Uint8Array } | undefined;

/**
 * Whether `presented` is the API key `key`, in constant time (Workers' `timingSafeEqual`, which
 * needs equal lengths). A presented key of another length compares the key with itself, so it
 * takes as long as a wrong key of the right length and says nothing about the key's length.
 * Synchronous: a digest per request (WebCrypto, then node:crypto) was the costliest part of
 * authenticating a call.
 */
export function isApiKey(presented: string, key: string): boolean {
  if (known?.key !== key) known = { key, bytes: encoder.encode(key) };
  const a = encoder.encode(presented);
  const b = known.bytes;
  return a.byteLength === b.byteLength ? crypto.subtle.timingSafeEqual(a, b) : !crypto.subtle.timingSafeEqual(b, b);
}

/** The key of `Authorization: Bearer <key>`, or undefined. */
export const bearerKey = (header: string | undefined) => /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]!.trim();

/** Management routes need `Authorization: Bearer <API_KEY>`; with no API_KEY set, they are closed. */
export const requireApiKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = c.env.API_KEY;
  if (!key) throw new AppError('API_KEY_NOT_CONFIGURED', 'API_KEY is not set: management routes are closed', 503);
  const presented = bearerKey(c.req.header('authorization'));
  if (presented === undefined || !isApiKey(presented, key)) throw new UnauthorizedError();
  await next();
};

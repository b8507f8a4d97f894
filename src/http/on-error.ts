import type { ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AppError, UnavailableError } from '../errors';
import { log } from '../log';
import type { AppEnv } from './types';

/** The one place errors become HTTP: `{ error: { code, message, details? } }`. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof UnavailableError) c.header('retry-after', String(err.retryAfterS));
  if (err instanceof AppError) return c.json({ error: err.toJSON() }, err.status);
  // A Durable Object that was reset, overloaded or unreachable says so (`retryable`, `overloaded`):
  // the request changed nothing it can know of, and can be sent again.
  if (err instanceof Error && ((err as { retryable?: unknown }).retryable === true || (err as { overloaded?: unknown }).overloaded === true)) {
    log('platform-unavailable', { path: new URL(c.req.url).pathname, error: err.message }, 'warn');
    c.header('retry-after', '1');
    return c.json({ error: { code: 'UNAVAILABLE', message: 'the platform could not serve this request just now; send it again' } }, 503);
  }
  if (err instanceof HTTPException) {
    return c.json({ error: { code: 'HTTP_ERROR', message: err.message || 'request failed' } }, err.status);
  }
  console.error('unhandled error', err);
  return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
};

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  c.json({ error: { code: 'NOT_FOUND', message: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` } }, 404);

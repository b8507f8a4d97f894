import type { ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AppError } from '../errors';
import type { AppEnv } from './types';

/** The one place errors become HTTP: `{ error: { code, message, details? } }`. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof AppError) return c.json({ error: err.toJSON() }, err.status);
  if (err instanceof HTTPException) {
    return c.json({ error: { code: 'HTTP_ERROR', message: err.message || 'request failed' } }, err.status);
  }
  console.error('unhandled error', err);
  return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
};

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  c.json({ error: { code: 'NOT_FOUND', message: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` } }, 404);

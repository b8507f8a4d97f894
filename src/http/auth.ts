import type { MiddlewareHandler } from 'hono';
import { AppError, UnauthorizedError } from '../errors';
import { hashToken, sameHash } from '../hitl/token';
import type { AppEnv } from './types';

/** Management routes need `Authorization: Bearer <API_KEY>`; with no API_KEY set, they are closed. */
export const requireApiKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = c.env.API_KEY;
  if (!key) throw new AppError('API_KEY_NOT_CONFIGURED', 'API_KEY is not set: management routes are closed', 503);
  const match = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
  // Hashes first: equal length, and the comparison time says nothing about the key.
  if (!match || !sameHash(hashToken(match[1]!.trim()), hashToken(key))) throw new UnauthorizedError();
  await next();
};

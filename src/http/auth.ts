import type { MiddlewareHandler } from 'hono';
import { AppError, UnauthorizedError } from '../errors';
import { timingSafeEqualText } from '../hitl/crypto';
import type { AppEnv } from './types';

/** Management routes need `Authorization: Bearer <API_KEY>`; with no API_KEY set, they are closed. */
export const requireApiKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = c.env.API_KEY;
  if (!key) throw new AppError('API_KEY_NOT_CONFIGURED', 'API_KEY is not set: management routes are closed', 503);
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match || !(await timingSafeEqualText(match[1]!.trim(), key))) throw new UnauthorizedError();
  await next();
};

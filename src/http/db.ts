import type { Env } from '../env';
import { AppError } from '../errors';

/** The D1 binding the executions index lives in; 503 naming the setting when it is missing. */
export function requireDb(env: Env): D1Database {
  if (!env.DB) throw new AppError('INDEX_NOT_CONFIGURED', 'the executions index needs the D1 binding DB (see docs/deploy.md)', 503);
  return env.DB;
}

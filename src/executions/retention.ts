import type { Env } from '../env';
import { log } from '../log';
import { purgeFinished } from './index-store';

/** Days a finished execution is kept (EXECUTION_RETENTION_DAYS, default 30). */
export function retentionDays(env: Env): number {
  // A blank value is unset, not 0 (which would delete every run as it ends).
  const raw = typeof env.EXECUTION_RETENTION_DAYS === 'string' ? env.EXECUTION_RETENTION_DAYS.trim() : '';
  const days = raw === '' ? 30 : Number(raw);
  return Number.isFinite(days) && days >= 0 ? days : 30;
}

/**
 * Forgets finished executions older than the retention from the index. Suspended runs keep their
 * own schedule (their object deletes its row when its storage goes).
 */
export async function purgeIndex(env: Env, now = Date.now()): Promise<number> {
  if (!env.DB) return 0;
  const removed = await purgeFinished(env.DB, now - retentionDays(env) * 86_400_000);
  if (removed) log('index-purged', { removed });
  return removed;
}

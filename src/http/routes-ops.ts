import { Hono } from 'hono';
import { z } from 'zod';
import { parseDuration } from '../ensemble/duration';
import { ValidationError } from '../errors';
import { indexStats } from '../executions/index-store';
import { requireApiKey } from './auth';
import { issueList } from './body';
import { requireDb } from './db';
import type { AppEnv } from './types';

const StatsQuery = z.strictObject({ window: z.string().max(20).default('24h') });

/**
 * `GET /healthz` (no auth): what this Worker can reach cheaply. 200 when every binding it has
 * answers, 503 naming the failing one. Never shows a value, only whether things work.
 * `GET /stats` (API key): counts by status, pending, decision latency over a window, from the index.
 */
export const opsRoutes = new Hono<AppEnv>()
  .get('/healthz', async (c) => {
    const checks: Record<string, 'ok' | 'missing' | string> = {
      durableObjects: c.env.HITL_STATE ? 'ok' : 'missing',
      apiKey: c.env.API_KEY ? 'ok' : 'missing',
      d1: 'missing',
      kv: c.env.KV ? 'ok' : 'missing',
      ensembles: 'ok',
    };
    if (c.env.DB) {
      try {
        await c.env.DB.prepare('SELECT 1 FROM executions LIMIT 1').all();
        checks.d1 = 'ok';
      } catch {
        // The reason goes to the logs, not to an unauthenticated caller.
        checks.d1 = 'error';
      }
    }
    const invalid = c.var.registry.invalidCount();
    if (invalid) checks.ensembles = `${invalid} invalid (GET /ensembles)`;
    const healthy = checks.durableObjects === 'ok' && checks.apiKey === 'ok' && checks.d1 === 'ok';
    return c.json({ ok: healthy, checks }, healthy ? 200 : 503);
  })
  .get('/stats', requireApiKey, async (c) => {
    const parsed = StatsQuery.safeParse(c.req.query());
    if (!parsed.success) throw new ValidationError('invalid query', issueList(parsed.error));
    let windowMs: number;
    try {
      windowMs = parseDuration(parsed.data.window, 'ms');
    } catch {
      throw new ValidationError(`window '${parsed.data.window}' is not a duration (e.g. 1h, 24h, 7 days)`);
    }
    if (!Number.isFinite(windowMs) || windowMs <= 0 || windowMs > 366 * 86_400_000) throw new ValidationError('window must be more than 0 and at most 366 days');
    return c.json(await indexStats(requireDb(c.env), windowMs));
  });

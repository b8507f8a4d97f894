import { Hono } from 'hono';
import { z } from 'zod';
import { AppError, ValidationError } from '../errors';
import { decodeCursor, getExecution, listExecutions, ListQuery } from '../executions/index-store';
import { Channel, channelNames } from '../hitl/request';
import { unwrap, type Result } from '../hitl/result';
import { issueList, readBody } from './body';
import { requireDb } from './db';
import { executionStub } from './stub';
import { ExtendBody, ReassignBody } from '../hitl/operators';
import type { AppEnv } from './types';

const CancelBody = z.object({ reason: z.string().max(2000).optional() });
const NotifyBody = z.strictObject({ channels: z.array(Channel).max(channelNames.length).optional() });

/** `/executions/:id`: state, audit log, cancel, re-send notifications. Only suspended (or resumed) runs are stored. */
export const executionRoutes = new Hono<AppEnv>()
  .get('/', async (c) => {
    const db = requireDb(c.env);
    const parsed = ListQuery.safeParse(c.req.query());
    if (!parsed.success) throw new ValidationError('invalid query', issueList(parsed.error));
    const cursor = parsed.data.cursor === undefined ? undefined : decodeCursor(parsed.data.cursor);
    if (parsed.data.cursor !== undefined && !cursor) throw new AppError('INVALID_CURSOR', 'the cursor is not one this API gave out', 400);
    return c.json(await listExecutions(db, parsed.data, cursor));
  })
  .get('/:id', async (c) => {
    const id = c.req.param('id');
    const described = (await executionStub(c.env, id).describe()) as Result<unknown>;
    if (described.ok || described.error.code !== 'NOT_FOUND' || !c.env.DB) return c.json(unwrap(described));
    // Never suspended, so in no Durable Object: the index holds what there is to show.
    const row = await getExecution(c.env.DB, id);
    if (!row) return c.json(unwrap(described));
    const summary = (row.summary ?? {}) as { input?: unknown; output?: unknown; steps?: unknown; error?: unknown; truncated?: boolean; trigger?: unknown };
    return c.json({
      executionId: row.executionId, ensemble: row.ensemble, status: row.status, trigger: summary.trigger ?? { type: row.trigger },
      input: summary.input ?? null, steps: summary.steps ?? [], output: summary.output ?? null,
      ...(summary.error ? { error: summary.error } : {}), ...(summary.truncated ? { truncated: true } : {}),
      pending: null, createdAt: row.createdAt, updatedAt: row.updatedAt,
    });
  })
  .get('/:id/audit', async (c) => {
    const id = c.req.param('id');
    return c.json({ executionId: id, entries: unwrap(await executionStub(c.env, id).auditLog()) });
  })
  .post('/:id/cancel', async (c) => {
    const { reason } = await readBody(c, CancelBody);
    return c.json(unwrap(await executionStub(c.env, c.req.param('id')).cancel(reason)));
  })
  .post('/:id/requests/:step{.+}/extend', async (c) => {
    const body = await readBody(c, ExtendBody);
    return c.json(unwrap(await executionStub(c.env, c.req.param('id')).extend(stepOf(c.req.param('step')), body)));
  })
  .post('/:id/requests/:step{.+}/reassign', async (c) => {
    const body = await readBody(c, ReassignBody);
    return c.json(unwrap(await executionStub(c.env, c.req.param('id')).reassign(stepOf(c.req.param('step')), body)));
  })
  .post('/:id/notify', async (c) => {
    const { channels } = await readBody(c, NotifyBody);
    return c.json(unwrap(await executionStub(c.env, c.req.param('id')).renotify(channels)));
  });

/** A step path from the URL (`each[2]/ok`, or percent-encoded), bounded. */
function stepOf(raw: string): string {
  let step = raw;
  try {
    step = decodeURIComponent(raw);
  } catch {
    throw new AppError('INVALID_STEP', 'the step path is not valid percent-encoding', 400);
  }
  if (step.length === 0 || step.length > 1000) throw new AppError('INVALID_STEP', 'a step path has 1 to 1000 characters', 400);
  return step;
}

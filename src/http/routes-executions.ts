import { Hono } from 'hono';
import { z } from 'zod';
import { Channel, channelNames } from '../hitl/request';
import { unwrap } from '../hitl/result';
import { readBody } from './body';
import { executionStub } from './stub';
import type { AppEnv } from './types';

const CancelBody = z.object({ reason: z.string().max(2000).optional() });
const NotifyBody = z.strictObject({ channels: z.array(Channel).max(channelNames.length).optional() });

/** `/executions/:id`: state, audit log, cancel, re-send notifications. Only suspended (or resumed) runs are stored. */
export const executionRoutes = new Hono<AppEnv>()
  .get('/:id', async (c) => c.json(unwrap(await executionStub(c.env, c.req.param('id')).describe())))
  .get('/:id/audit', async (c) => {
    const id = c.req.param('id');
    return c.json({ executionId: id, entries: unwrap(await executionStub(c.env, id).auditLog()) });
  })
  .post('/:id/cancel', async (c) => {
    const { reason } = await readBody(c, CancelBody);
    return c.json(unwrap(await executionStub(c.env, c.req.param('id')).cancel(reason)));
  })
  .post('/:id/notify', async (c) => {
    const { channels } = await readBody(c, NotifyBody);
    return c.json(unwrap(await executionStub(c.env, c.req.param('id')).renotify(channels)));
  });

import { Hono } from 'hono';
import { z } from 'zod';
import { AppError, NotFoundError } from '../errors';
import { readBody } from '../http/body';
import type { AppEnv } from '../http/types';
import { EVENT_NAME, EVENT_NAME_RULE, eventBox, keyProblem } from './names';
import { publishEvent } from './publish';

// `POST /events/:name` (the API key): an event for the waits on (name, key). `GET /events/:name?key=`:
// what its box holds (events kept for later waits, waits waiting, the recent log).

const EventBody = z.strictObject({
  key: z.union([z.string(), z.number()]).describe('which waits it is for: the `key` of `agent: wait` steps'),
  data: z.unknown().optional().describe("what the waits receive (their output's `data`)"),
  id: z.string().optional().describe('the sender\'s id for this event: sent again, it changes nothing (or use Idempotency-Key)'),
});

export const eventRoutes = new Hono<AppEnv>()
  .post('/:name', async (c) => {
    const name = c.req.param('name');
    if (!EVENT_NAME.test(name)) throw new AppError('INVALID_EVENT_NAME', `'${name.slice(0, 80)}' is not an event name: ${EVENT_NAME_RULE}`, 400);
    const body = await readBody(c, EventBody);
    const header = c.req.header('idempotency-key');
    if (header !== undefined && body.id !== undefined && header !== body.id) throw new AppError('INVALID_EVENT_ID', 'the body\'s id and the Idempotency-Key header differ: send one', 400);
    const published = await publishEvent(c.env, name, body.key, body.data, { id: body.id ?? header, source: 'api' });
    return c.json(published, 202);
  })
  .get('/:name', async (c) => {
    const name = c.req.param('name');
    const key = c.req.query('key');
    if (!EVENT_NAME.test(name)) throw new AppError('INVALID_EVENT_NAME', `'${name.slice(0, 80)}' is not an event name: ${EVENT_NAME_RULE}`, 400);
    if (key === undefined) throw new AppError('INVALID_QUERY', 'name the key: GET /events/<name>?key=<key>', 400);
    const problem = keyProblem(key);
    if (problem) throw new AppError('INVALID_EVENT_KEY', problem, 400);
    const held = await eventBox(c.env, name, key).inspect();
    if (!held) throw new NotFoundError(`events '${name}' for this key`);
    return c.json(held);
  });

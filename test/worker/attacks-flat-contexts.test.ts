import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { auth } from './helpers';

// Workers tie I/O to the request that started it. A flat run's row may be written by a batch
// another request opened, or copied by a read: none of that may cross request contexts, which
// fails with "Cannot perform I/O on behalf of a different request" and loses the rows.
const run = async () => {
  const res = await SELF.fetch('http://w/ensembles/hello', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ada' }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { executionId: string }).executionId;
};
const inD1 = async (ids: string[]) => {
  let n = 0;
  for (const id of ids) if (await env.DB.prepare('SELECT 1 FROM executions WHERE id = ?').bind(id).first()) n++;
  return n;
};

describe('flat-run rows across request contexts (each SELF.fetch is its own request, as deployed)', () => {
  it('control: a run left alone is written by its own timer', async () => {
    const id = await run();
    await new Promise((r) => setTimeout(r, 400));
    expect(await inD1([id])).toBe(1);
  });

  it('a read in another request right after a run finds it, and the row is kept', async () => {
    const id = await run();
    const got = await SELF.fetch(`http://w/executions/${id}`, { headers: auth });
    await new Promise((r) => setTimeout(r, 400));
    const seen = { status: got.status, inD1: await inD1([id]) };
    expect(seen).toEqual({ status: 200, inD1: 1 });
  });

  it('60 concurrent runs (more than one batch holds): every row is written', async () => {
    const ids = await Promise.all(Array.from({ length: 60 }, run));
    await new Promise((r) => setTimeout(r, 1500));
    const n = await inD1(ids);
    expect(n).toBe(60);
  });
});

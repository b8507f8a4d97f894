import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { hitlApp, stubOf, tokenOf } from './hitl-helpers';

const inObject = runInDurableObject as unknown as <T>(stub: unknown, fn: (instance: any, state: DurableObjectState) => Promise<T>) => Promise<T>;

describe('a repeated begin()', () => {
  it('answers the request the first call opened, not a later step\'s request (and never that step\'s links)', async () => {
    const app = hitlApp('rv2-begin2', `agents:
  - name: first
    agent: hitl
    inputs: { data: 1, prompt: First, approvers: [a@example.com], timeout: 3600, returnLinks: true }
  - name: second
    agent: hitl
    inputs: { data: 2, prompt: Second, approvers: [b@example.com], timeout: 3600, returnLinks: true }
`);
    const start = await app.run('rv2-begin2');
    expect(start.status).toBe(202);
    const id = start.body.executionId as string;
    const { state, definition } = await inObject(stubOf(id), async (instance) => {
      const run = instance.store.run();
      return { state: run.state, definition: { file: run.file, source: run.source, hash: run.hash } };
    });
    expect((await app.decide(tokenOf(start.body.pending.links.personal[0].url), { approved: true })).status).toBe(200);
    await app.until(id, 'suspended');
    // The same begin (the state of step 1) again, e.g. a retried RPC.
    const stub = stubOf(id) as unknown as { begin: (d: unknown, s: unknown) => Promise<any> };
    const again = await stub.begin(definition, state);
    expect({ step: again.step, links: again.links ?? null }).toEqual({ step: 'first', links: null });
  });
});

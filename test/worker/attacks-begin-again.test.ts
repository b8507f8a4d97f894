import { describe, expect, it } from 'vitest';
import { beginOf, hitlApp, storedRun, tokenOf } from './hitl-helpers';

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
    const { state, definition } = await storedRun(id);
    expect((await app.decide(tokenOf(start.body.pending.links.personal[0].url), { approved: true })).status).toBe(200);
    await app.until(id, 'suspended');
    // The same begin (the state of step 1) again, e.g. a retried RPC.
    const again = (await beginOf(id).begin(definition, state)).pending;
    expect({ step: again.step, links: again.links ?? null }).toEqual({ step: 'first', links: null });
  });
});

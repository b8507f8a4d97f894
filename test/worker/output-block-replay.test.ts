import { describe, expect, it } from 'vitest';
import { appWith, auth } from './helpers';
import * as greet from '../../scripts/greet';

// an output block's answer replayed for an Idempotency-Key keeps its status
// and body, but loses the block's headers and X-Execution-Id.

describe('output blocks and Idempotency-Key', () => {
  it('a replayed answer has the headers of the first', async () => {
    const app = appWith({ ob: 'agents:\n  - { name: a, operation: code, config: { script: greet }, input: { name: x } }\noutput:\n  - status: 201\n    headers: { x-note: hi }\n    body: { ok: true }\n' }, { greet });
    const key = `k-${crypto.randomUUID()}`;
    const go = () => app.request('/ensembles/ob', { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': key }, body: '{}' });
    const first = await go();
    expect(first.status).toBe(201);
    expect(first.headers.get('x-note')).toBe('hi');
    const again = await go();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('x-note')).toBe('hi');
    expect(again.headers.get('x-execution-id')).toBe(first.headers.get('x-execution-id'));
  });
});

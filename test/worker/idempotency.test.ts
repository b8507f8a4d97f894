import { describe, expect, it } from 'vitest';
import { appWith, received } from './helpers';

// http steps are at-least-once; the Idempotency-Key lets a receiver make them exactly-once.

const step = (path: string, extra = '') => `agents:
  - name: charge
    operation: http
    config: { url: "\${env.RECEIVER}${path}", body: { amount: 5 }, retries: 3, backoff: 1${extra} }
`;

describe('Idempotency-Key on http steps', () => {
  it('is the same on every attempt of a step, and different for another execution', async () => {
    const key = crypto.randomUUID();
    const app = appWith({ pay: step(`/flaky/${key}/2`) });
    const first = await app.run('pay');
    expect(first.status).toBe(200);
    const hits = await received(`/flaky/${key}/2`);
    expect(hits).toHaveLength(3);
    const keys = new Set(hits.map((h) => h.headers['idempotency-key']));
    expect(keys).toEqual(new Set([`${first.body.executionId}:charge`]));
    const second = await app.run('pay');
    const latest = (await received(`/flaky/${key}/2`)).at(-1)!;
    expect(latest.headers['idempotency-key']).toBe(`${second.body.executionId}:charge`);
  });

  it('can be set (idempotencyKey, or the header itself) or turned off', async () => {
    const path = `/idem-${crypto.randomUUID()}`;
    const app = appWith({
      custom: step(`${path}/a`, ', idempotencyKey: "order-${input.order}"'),
      header: step(`${path}/b`, ', headers: { Idempotency-Key: mine }'),
      off: step(`${path}/c`, ', idempotencyKey: false'),
    });
    await app.run('custom', { order: 42 });
    await app.run('header');
    await app.run('off');
    expect((await received(`${path}/a`))[0].headers['idempotency-key']).toBe('order-42');
    expect((await received(`${path}/b`))[0].headers['idempotency-key']).toBe('mine');
    expect((await received(`${path}/c`))[0].headers['idempotency-key']).toBeUndefined();
  });
});

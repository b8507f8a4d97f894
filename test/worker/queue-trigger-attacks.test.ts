import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { appWith } from './helpers';
import { consumeQueue } from '../../src/triggers/queue';
import { canonicalJson } from '../../src/runtime/canonical-json';
import { digestToken } from '../../src/hitl/token';
import * as greet from '../../scripts/greet';

// a redelivery while the first attempt's claim is still
// held (the first consumer died mid-run) is acknowledged, and the run is lost; message bodies are
// not checked as request bodies are (__proto__, depth).

const uid = () => crypto.randomUUID().slice(0, 8);
const step = 'agents:\n  - { name: hello, operation: code, config: { script: greet }, input: { name: "${input.name}" } }\n';

async function deliver(app: ReturnType<typeof appWith>, queue: string, id: string, body: unknown) {
  const batch = createMessageBatch(queue, [{ id, timestamp: new Date(), attempts: 2, body }]);
  const ctx = createExecutionContext();
  await consumeQueue(batch, env, app.registry, (w) => ctx.waitUntil(w));
  return getQueueResult(batch, ctx);
}

describe('queue', () => {
  it('a redelivered message whose first attempt died mid-start (claim held, never finished) is retried, not acknowledged and lost', async () => {
    const name = `qb-${uid()}`;
    const queue = `q-${uid()}`;
    const app = appWith({ [name]: `trigger:\n  - { type: queue, queue: ${queue} }\n${step}` }, { greet });
    const id = crypto.randomUUID();
    const body = { name: 'invoice' };
    // The first delivery's consumer claimed the start and then died (CPU limit, eviction): the
    // claim is held for its 15-minute lease with no answer. The queue redelivers at once.
    const stub = env.HITL_STATE.get(env.HITL_STATE.idFromName(`idempotency\n${name}\nqueue:${id}`));
    const first = (await stub.claimStart(await digestToken(canonicalJson(body)))) as { kind: string };
    expect(first.kind).toBe('claimed');
    const result = await deliver(app, queue, id, body);
    // Acknowledged here means the message is gone and no run ever completes.
    expect(result.explicitAcks, 'acked while no run exists').toEqual([]);
    expect(result.retryMessages.map((m: any) => m.msgId)).toEqual([id]);
  });

  it('a message body with an own __proto__ key is refused like the API refuses it (not run with a planted prototype)', async () => {
    const name = `qp-${uid()}`;
    const queue = `q-${uid()}`;
    const seen: unknown[] = [];
    const capture = { default: (ctx: { input: unknown }) => { seen.push(ctx.input); return {}; } };
    const app = appWith({ [name]: `trigger:\n  - { type: queue, queue: ${queue} }\nagents:\n  - { name: c, operation: code, config: { script: capture }, input: { name: "\${input.name}" } }\n` }, { capture });
    const id = crypto.randomUUID();
    const result = await deliver(app, queue, id, JSON.parse('{"__proto__": {"name": "planted"}}'));
    expect(result.explicitAcks, `run with step input ${JSON.stringify(seen)}`).toEqual([]);
  });

  it('a message body nested deeper than LIMITS.jsonDepth (64) is refused like a request body', async () => {
    const name = `qd-${uid()}`;
    const queue = `q-${uid()}`;
    const app = appWith({ [name]: `trigger:\n  - { type: queue, queue: ${queue} }\n${step}` }, { greet });
    let deep: unknown = 'x';
    for (let i = 0; i < 200; i++) deep = { d: deep };
    const result = await deliver(app, queue, crypto.randomUUID(), { name: 'deep', deep });
    expect(result.explicitAcks).toEqual([]);
  });
});

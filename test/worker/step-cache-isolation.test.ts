import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { appWith } from './helpers';
import { cacheKeyOf } from '../../src/runtime/step-policies';

// the step cache (cache: { ttl }) lives in the same KV namespace, with a
// computable key, as the storage operation's data; and a code step's key leaves out what it reads.

describe('step cache', () => {
  it('a storage step whose key comes from a run input cannot plant the cached output of another ensemble', async () => {
    const cached = `c${crypto.randomUUID().slice(0, 6)}`;
    const app = appWith({
      [cached]: 'agents:\n  - name: price\n    operation: http\n    config: { url: "${env.RECEIVER}/echo/price" }\n    input: { sku: "${input.sku}" }\n    cache: { ttl: 600 }\n',
      notes: 'agents:\n  - name: put\n    operation: storage\n    config: { type: kv, action: put, key: "${input.key}", value: "${input.value}" }\n',
    });
    // The key is a SHA-256 of what anyone who knows the ensemble can write down.
    const key = await cacheKeyOf(cached, 'price', { input: { sku: 'A1' }, config: { url: `${env.RECEIVER}/echo/price` } }, []);
    await app.run('notes', { key, value: { price: 0, poisoned: true } });
    const { body } = await app.run(cached, { sku: 'A1' });
    expect(body.steps[0].output).not.toEqual({ price: 0, poisoned: true });
    expect(body.steps[0].cached).toBeUndefined();
  });

  it('a storage step cannot list or read the step cache (other ensembles\' cached outputs)', async () => {
    const cached = `c${crypto.randomUUID().slice(0, 6)}`;
    const app = appWith({
      [cached]: 'agents:\n  - name: price\n    operation: http\n    config: { url: "${env.RECEIVER}/echo/private" }\n    input: { customer: "${input.customer}" }\n    cache: { ttl: 600 }\n',
      peek: 'agents:\n  - name: ls\n    operation: storage\n    config: { type: kv, action: list, prefix: "${input.prefix}" }\n',
    });
    await app.run(cached, { customer: 'alice@example.com' });
    // The cache is its own namespace: what a storage step lists is never one of its entries.
    const entries = (await (env as any).STEP_CACHE.list()).keys.map((k: { name: string }) => k.name);
    expect(entries.length).toBeGreaterThan(0);
    const { body } = await app.run('peek', { prefix: 'cache:' });
    expect((body.output?.ls?.keys ?? []).filter((k: string) => entries.includes(k))).toEqual([]);
    // Naming the cache's binding is refused.
    const named = appWith({ sneak: 'agents:\n  - name: ls\n    operation: storage\n    config: { type: kv, action: list, binding: STEP_CACHE }\n' });
    const refused = await named.run('sneak', {});
    expect(refused.body.steps[0].error.code).toBe('BINDING_RESERVED');
  });

  it('a code step is cached only with a key its author gives: its result depends on earlier steps, not only its input', async () => {
    // A script reads the approval decision from context.steps, as AgentExecutionContext allows.
    const decide = { default: (ctx: any) => ({ approved: ctx.input.amount < 100 }) };
    const publish = { default: (ctx: any) => ({ published: ctx.steps.decide.output.approved === true }) };
    const name = `cc${crypto.randomUUID().slice(0, 6)}`;
    const app = appWith({ [name]: `agents:
  - { name: decide, operation: code, config: { script: decide }, input: { amount: "\${input.amount}" } }
  - { name: publish, operation: code, config: { script: publish }, cache: { ttl: 600 } }
` }, { decide, publish } as any);
    // A code step's result depends on more than its input: the author must say what identifies it.
    const refused = await app.run(name, { amount: 5 });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body.error.details)).toContain('a code step reads earlier steps and the run besides its input: give `cache.key`');
  });
});

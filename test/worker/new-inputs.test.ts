import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app';
import { EnsembleRegistry } from '../../src/ensemble/registry';
import { auth } from './helpers';
import { hitlApp, suspend } from './hitl-helpers';
import { stepKinds } from '../../src/kinds';

// The routes added for Slack, the console, recovery and operations, fed what clients get wrong:
// each answer is a 4xx in the usual shape, never a 500.

const TEN_MB = 'x'.repeat(10 * 1024 * 1024);

async function suspended() {
  const name = `ni-${crypto.randomUUID().slice(0, 8)}`;
  const app = hitlApp(name, `agents:
  - name: review
    agent: hitl
    inputs: { data: 1, prompt: X, approvers: [ann@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}/ni-${crypto.randomUUID()}" } }
`);
  return { app, id: await suspend(app, name) };
}

describe('new inputs answer 4xx, never 500', () => {
  it('10 MB bodies to /slack/interactions, /admin/login and /executions/:id/notify are 413', async () => {
    const { app, id } = await suspended();
    const cases: [string, Record<string, string>][] = [
      ['/slack/interactions', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['/admin/login', { 'content-type': 'application/x-www-form-urlencoded' }],
      [`/executions/${id}/notify`, { ...auth, 'content-type': 'application/json' }],
    ];
    for (const [path, headers] of cases) {
      const res = await app.request(path, { method: 'POST', headers, body: TEN_MB });
      expect(res.status, path).toBe(413);
    }
  });

  it('a 10,000-deep or misspelt notify body is 400 with the reason', async () => {
    const { app, id } = await suspended();
    const post = (body: string) => app.request(`/executions/${id}/notify`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
    // 10,000 levels in 20 KB (under the 64 KiB limit, so it is the depth that is refused).
    const deep = await post(`{"channels":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    expect(deep.status).toBe(400);
    expect(((await deep.json()) as any).error.code).toBe('TOO_DEEP');
    const misspelt = await post('{"chanels":["webhook"]}');
    expect(misspelt.status).toBe(400);
    expect(((await misspelt.json()) as any).error.details[0]).toMatchObject({ code: 'unrecognized_keys' });
  });

  it('an Access assertion over 16 KB is 401, not parsed', async () => {
    const { app } = await suspended();
    const res = await app.request('/callback/exe_00000000000000000000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', {
      method: 'POST', headers: { 'content-type': 'application/json', 'cf-access-jwt-assertion': 'a'.repeat(20_000) }, body: '{"approved":true}',
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.message).toContain('too large');
  });

  it('/healthz says 503 and names the missing binding when D1 is not bound', async () => {
    const app = createApp(() => new EnsembleRegistry([], {}, stepKinds));
    const res = await app.fetch(new Request('http://worker.test/healthz'), { ...env, DB: undefined });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, checks: { d1: 'missing' } });
  });
});

import { describe, expect, it } from 'vitest';
import { auth } from './helpers';
import { eventually, fireAlarm, hitlApp, received, stubOf, suspend, tokenOf } from './hitl-helpers';
import { runInDurableObject } from 'cloudflare:test';

// A channel that is down must not strand a request: it falls back, it shows, it can be re-sent.

const notify = (app: ReturnType<typeof hitlApp>, id: string, body: unknown = {}) =>
  app.request(`/executions/${id}/notify`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('recovering notifications', () => {
  it('a webhook that stays down: retries give up, the fallback gets the links, the execution shows it, notify re-sends', async () => {
    const key = crypto.randomUUID();
    // /flaky/<key>/6 fails 6 times (every retry), then answers 200.
    const app = hitlApp('down', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Down, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}/flaky/${key}/6" } }
`);
    const id = await suspend(app, 'down');
    const gaveUp = await eventually(async () => {
      await fireAlarm(id);
      const audit = await app.audit(id);
      expect(audit.some((e) => e.type === 'notify-failed' && e.detail.gaveUp)).toBe(true);
      expect(audit.some((e) => e.type === 'notified' && e.detail.channel === 'console')).toBe(true);
      return audit;
    }, 10_000);
    expect(gaveUp.find((e) => e.type === 'notify-fallback')?.detail).toEqual({ failed: 'webhook', kind: 'request', to: 'console' });
    const pending = (await app.execution(id)).body.pending;
    expect(pending.notifications).toEqual(expect.arrayContaining([
      expect.objectContaining({ channel: 'webhook', status: 'failed', attempts: 6, lastError: expect.stringContaining('answered 503') }),
      expect.objectContaining({ channel: 'console', status: 'sent', fallbackFor: 'webhook' }),
    ]));

    const res = await notify(app, id, { channels: ['webhook'] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.notifications).toEqual(expect.arrayContaining([expect.objectContaining({ channel: 'webhook', status: 'sent', attempts: 1 })]));
    const [hit] = (await received(`/flaky/${key}/6`)).filter((h) => h.json?.executionId === id).slice(-1);
    expect(hit.json.approvers[0].approver).toBe('a@example.com');
    // The re-sent link works.
    expect((await app.decide(tokenOf(hit.json.approvers[0].callbackUrl), { approved: true })).body.status).toBe('approved');
    expect((await app.audit(id)).find((e) => e.type === 'renotify')?.detail).toEqual({ step: 'approve', channels: ['webhook'] });
  }, 20_000);

  it('notify refuses what cannot be sent: a closed request (409), a channel the step does not use (400), an unknown id (404)', async () => {
    const hook = `/rn-${crypto.randomUUID()}`;
    const app = hitlApp('rn', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: X, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}", fallback: none } }
`);
    const id = await suspend(app, 'rn');
    const wrong = await notify(app, id, { channels: ['email'] });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as any).error.code).toBe('UNKNOWN_CHANNEL');
    expect((await notify(app, id, { channels: ['teams'] })).status).toBe(400);
    await app.request(`/executions/${id}/cancel`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    expect((await notify(app, id)).status).toBe(409);
    expect((await notify(app, 'exe_00000000000000000000000000000001')).status).toBe(404);
  });
});

describe('the watchdog is bounded', () => {
  it('a continuation interrupted at the same step more than 3 times fails RESUME_EXHAUSTED instead of repeating it', async () => {
    const hook = `/wd-${crypto.randomUUID()}`;
    const app = hitlApp('wd', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: X, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
  - name: charge
    operation: http
    config: { url: "\${env.RECEIVER}${hook}/charge", body: { amount: 1 } }
`);
    const id = await suspend(app, 'wd');
    const [hit] = await eventually(async () => { const h = await received(hook); expect(h).toHaveLength(1); return h; });
    // Three earlier continuations started at this step and died (the isolate was killed mid-step):
    // that is what the object recorded before each one.
    const inObject = runInDurableObject as unknown as (stub: unknown, fn: (instance: any) => Promise<void>) => Promise<void>;
    await inObject(stubOf(id), async (instance) => {
      for (let i = 0; i < 3; i++) instance.store.noteResume(1);
    });
    await app.decide(tokenOf(hit.json.approvers[0].callbackUrl), { approved: true });
    const done = await app.until(id, 'failed');
    expect(done.error).toMatchObject({ code: 'RESUME_EXHAUSTED' });
    expect(await received(`${hook}/charge`)).toHaveLength(0);
  });
});

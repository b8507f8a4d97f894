import { describe, expect, it } from 'vitest';
import { newSession } from '../../src/admin/session';
import { auth } from './helpers';
import { hitlApp, suspend } from './hitl-helpers';

// The operator console: who may use it, and that its forms cannot be posted from elsewhere.

const KEY = 'test-api-key';
const setup = async () => {
  const name = `adm-${crypto.randomUUID().slice(0, 8)}`;
  const app = hitlApp(name, `agents:
  - name: review
    agent: hitl
    inputs: { data: 1, prompt: "Check <b>this</b>", approvers: [ann@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}/adm-${crypto.randomUUID()}" } }
`);
  const id = await suspend(app, name);
  return { app, id, name };
};

const login = async (app: Awaited<ReturnType<typeof setup>>['app']) => {
  const res = await app.request('/admin/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `key=${KEY}` });
  expect(res.status).toBe(303);
  const cookie = res.headers.get('set-cookie')!;
  expect(cookie).toMatch(/^hitl_admin=\d+\.[\w-]+; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=28800$/);
  return cookie.split(';')[0]!;
};

const csrfIn = async (res: Response) => /name="csrf" value="([^"]+)"/.exec(await res.text())?.[1];

describe('the operator console', () => {
  it('sends strangers to the login form; a wrong key is refused; the right one signs in', async () => {
    const { app, id, name } = await setup();
    const anon = await app.request('/admin');
    expect(anon.status).toBe(303);
    expect(anon.headers.get('location')).toBe('/admin/login');
    const wrong = await app.request('/admin/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'key=guess' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const cookie = await login(app);
    const home = await app.request(`/admin?ensemble=${name}`, { headers: { cookie } });
    expect(home.status).toBe(200);
    const text = await home.text();
    expect(text).toContain('Waiting for people');
    expect(text).toContain(id);
    expect(home.headers.get('content-security-policy')).toContain("default-src 'none'");
    const run = await app.request(`/admin/executions/${id}`, { headers: { cookie } });
    const page = await run.text();
    expect(page).toContain('Check &lt;b&gt;this&lt;/b&gt;');
    expect(page).toContain('Re-send notifications');
    expect(page).toMatch(/<td>suspended<\/td>|<td>review<\/td>/);
  });

  it('a tampered or expired session is no session', async () => {
    const { app } = await setup();
    for (const cookie of ['hitl_admin=9999999999999.forged', `hitl_admin=${newSession(KEY, Date.now() - 9 * 3_600_000)}`, `hitl_admin=${newSession('another-key')}`]) {
      expect((await app.request('/admin', { headers: { cookie } })).status).toBe(303);
    }
  });

  it('forms need the CSRF token and this site: without either nothing happens', async () => {
    const { app, id } = await setup();
    const cookie = await login(app);
    const csrf = await csrfIn(await app.request(`/admin/executions/${id}`, { headers: { cookie } }));
    expect(csrf).toBeTruthy();
    const post = (body: string, headers: Record<string, string> = {}) => app.request(`/admin/executions/${id}/cancel`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
    expect((await post('reason=x')).status).toBe(403);
    expect((await post(`csrf=${csrf}x&reason=x`)).status).toBe(403);
    expect((await post(`csrf=${csrf}&reason=x`, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await app.execution(id)).body.status).toBe('suspended');
    const ok = await post(`csrf=${csrf}&reason=duplicate`, { origin: 'http://worker.test', 'sec-fetch-site': 'same-origin' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe(`/admin/executions/${id}?done=cancelled`);
    expect((await app.execution(id)).body.status).toBe('cancelled');
    expect((await app.audit(id)).find((e) => e.type === 'cancelled')?.detail).toEqual({ step: 'review', reason: 'duplicate' });
  });

  it('the API key as a bearer header works without a session (scripts), and re-sends notifications', async () => {
    const { app, id } = await setup();
    expect((await app.request('/admin', { headers: auth })).status).toBe(200);
    const res = await app.request(`/admin/executions/${id}/notify`, { method: 'POST', headers: auth });
    expect(res.status).toBe(303);
    expect((await app.audit(id)).some((e) => e.type === 'renotify')).toBe(true);
  });
});

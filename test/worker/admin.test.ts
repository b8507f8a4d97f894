import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:test';
import { LIMITS } from '../../src/limits';
import { clientOf } from '../../src/admin/guard';
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

// Each test signs in from a client (IP) of its own: sign-in is throttled per client.
let clients = 0;
const client = () => `198.51.100.${++clients}`;
const signIn = (app: Awaited<ReturnType<typeof setup>>['app'], key: string, ip: string) =>
  app.request('/admin/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': ip }, body: `key=${encodeURIComponent(key)}` });

const login = async (app: Awaited<ReturnType<typeof setup>>['app'], ip = client()) => {
  const res = await signIn(app, KEY, ip);
  expect(res.status).toBe(303);
  const cookie = res.headers.get('set-cookie')!;
  expect(cookie).toMatch(/^hitl_admin=[\w-]{24}\.\d+\.[\w-]+; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=28800$/);
  return cookie.split(';')[0]!;
};

const csrfIn = async (res: Response) => /name="csrf" value="([^"]+)"/.exec(await res.text())?.[1];

describe('the operator console', () => {
  it('sends strangers to the login form; a wrong key is refused; the right one signs in', async () => {
    const { app, id, name } = await setup();
    const anon = await app.request('/admin');
    expect(anon.status).toBe(303);
    expect(anon.headers.get('location')).toBe('/admin/login');
    const wrong = await signIn(app, 'guess', client());
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
    expect(page).toMatch(/<span class="badge suspended">suspended<\/span>/);
    expect(page).toContain('<span class="nw">review</span>');
  });

  it('a tampered, expired, foreign or never-opened session is no session', async () => {
    const { app } = await setup();
    // Signed with the right key but never opened by a sign-in: not a row of the guard, so refused.
    const minted = newSession(KEY).value;
    for (const cookie of ['hitl_admin=9999999999999.forged', `hitl_admin=${newSession(KEY, Date.now() - 9 * 3_600_000).value}`, `hitl_admin=${newSession('another-key').value}`, `hitl_admin=${minted}`]) {
      expect((await app.request('/admin', { headers: { cookie } })).status).toBe(303);
    }
  });

  it('extends and reassigns an open request from the run page (its forms, same-site, with the CSRF token)', async () => {
    const { app, id } = await setup();
    const cookie = await login(app);
    const page = await (await app.request(`/admin/executions/${id}`, { headers: { cookie } })).text();
    expect(page).toContain('Extend or reassign');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const post = (action: string, body: string) => app.request(`/admin/executions/${id}/${action}`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: 'http://worker.test', 'sec-fetch-site': 'same-origin' }, body: `csrf=${csrf}&${body}` });
    const before = Date.parse((await app.execution(id)).body.pending.expiresAt);
    const extended = await post('extend', 'step=review&by=1d');
    expect(extended.status).toBe(303);
    expect(extended.headers.get('location')).toBe(`/admin/executions/${id}?done=extended`);
    expect(Date.parse((await app.execution(id)).body.pending.expiresAt) - before).toBe(86_400_000);
    const moved = await post('reassign', 'step=review&replace=ann%40example.com&to=bea%40example.com');
    expect(moved.headers.get('location')).toBe(`/admin/executions/${id}?done=reassigned`);
    expect((await app.execution(id)).body.pending.approvers).toEqual(['bea@example.com']);
    expect((await post('reassign', 'step=review&to=bea%40example.com')).status).toBe(409);
    // A second extension: each is its own audit entry.
    expect((await post('extend', 'step=review&by=1h')).status).toBe(303);
    // Without the CSRF token, nothing changes.
    const forged = await app.request(`/admin/executions/${id}/extend`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: 'http://worker.test' }, body: 'step=review&by=7d' });
    expect(forged.status).toBe(403);
    expect((await app.audit(id)).filter((e) => e.type === 'extended' || e.type === 'reassigned').map((e) => e.type)).toEqual(['extended', 'reassigned', 'extended']);
  });

  it('signing out ends the session on the server: the old cookie neither reads the console nor cancels a run', async () => {
    const { app, id } = await setup();
    const cookie = await login(app);
    const csrf = await csrfIn(await app.request(`/admin/executions/${id}`, { headers: { cookie } }));
    const other = await login(app);
    const out = await app.request('/admin/logout', { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^hitl_admin=; .*Max-Age=0/);
    // The browser forgot it; a copy of it (kept by whoever had it) is refused from now on.
    expect((await app.request('/admin', { headers: { cookie } })).status).toBe(303);
    const cancel = await app.request(`/admin/executions/${id}/cancel`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: 'http://worker.test' }, body: `csrf=${csrf}&reason=stolen` });
    expect(cancel.status).toBe(401);
    expect((await app.execution(id)).body.status).toBe('suspended');
    // Another session stays signed in.
    expect((await app.request('/admin', { headers: { cookie: other } })).status).toBe(200);
  });

  it('sign-in is throttled: after 5 wrong keys from one client it answers 429 with Retry-After, even to the right key', async () => {
    const { app } = await setup();
    const ip = client();
    for (let i = 0; i < 5; i++) expect((await signIn(app, `guess-${i}`, ip)).status).toBe(401);
    const locked = await signIn(app, KEY, ip);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(locked.headers.get('set-cookie')).toBeNull();
    expect(await locked.text()).toContain('Too many wrong keys from here');
    // Another client is not locked out by this one; the bearer header still works for scripts.
    await login(app, client());
    expect((await app.request('/admin', { headers: auth })).status).toBe(200);
  });

  it('concurrent guesses are counted one by one: of 40 at once from one client, at most 5 are judged, the rest are 429', async () => {
    const { app } = await setup();
    const ip = client();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => signIn(app, `guess-${i}`, ip)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(35);
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

  it('wrong keys from many clients close sign-in to every client that guessed wrong; a clean client still signs in', async () => {
    const guard = env.ADMIN_GUARD.get(env.ADMIN_GUARD.idFromName(`test-${crypto.randomUUID()}`));
    const now = Date.now();
    for (let i = 0; i < LIMITS.loginFailuresAll; i++) expect(await guard.login(`203.0.113.${i}`, false, 'h', now + 1000, now)).toEqual({ ok: false, reason: 'wrong-key' });
    // One of the guessers, even with the right key: refused until the lockout ends.
    expect(await guard.login('203.0.113.7', true, 'h1', now + 1000, now + 1)).toMatchObject({ ok: false, reason: 'locked', scope: 'everyone' });
    expect(await guard.active('h1', now + 2)).toBe(false);
    // A new client: one guess, then it is refused too.
    expect(await guard.login('192.0.2.9', false, 'h', now + 1000, now + 3)).toEqual({ ok: false, reason: 'wrong-key' });
    expect(await guard.login('192.0.2.9', true, 'h3', now + 1000, now + 4)).toMatchObject({ ok: false, reason: 'locked', scope: 'everyone' });
    // The operator's clean client signs in: strangers cannot lock them out.
    expect(await guard.login('192.0.2.1', true, 'h2', now + 1000, now + 5)).toEqual({ ok: true });
    expect(await guard.active('h2', now + 6)).toBe(true);
    // Once the lockout has passed, a guesser with the right key signs in again.
    const later = now + LIMITS.loginLockoutMs + 1;
    expect(await guard.login('203.0.113.7', true, 'h4', later + 1000, later)).toEqual({ ok: true });
  });

  it('an IPv6 client is its /64: rotating addresses inside it does not reset the count', () => {
    expect(clientOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientOf('198.51.100.7')).toBe('198.51.100.7');
    expect(clientOf(undefined)).toBe('unknown');
  });
});

import { env, createScheduledController, createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { createApp } from '../../src/http/app';
import { EnsembleRegistry } from '../../src/ensemble/registry';
import { retentionDays } from '../../src/executions/retention';
import { appWith, auth } from './helpers';
import { eventually, fireAlarm, hitlApp, hitsAt, suspend } from './hitl-helpers';
import { stepKinds } from '../../src/kinds';

// Attacks on the operator side (console access, retention, stats) that an adversarial review found,
// each kept as the behaviour that must hold; and what the review found holding.

const ISSUER = 'https://team.example.test';
const KID = `ops-${crypto.randomUUID()}`;
const CERTS = `/zz10-certs-${crypto.randomUUID()}`;
let key: JoseKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  await fetch(`${env.RECEIVER}/_serve`, { method: 'POST', body: JSON.stringify({ path: CERTS, body: { keys: [jwk] } }) });
});

const assertion = (email: string) => new SignJWT({ type: 'app', email, sub: crypto.randomUUID() })
  .setProtectedHeader({ alg: 'RS256', kid: KID }).setIssuer(ISSUER).setAudience('aud-test').setIssuedAt().setExpirationTime('5m').sign(key);

// An app over no ensembles, with Access keys served at our own path (so access.test.ts is not disturbed).
const accessEnv = () => ({ ...env, ACCESS_CERTS_URL: `${env.RECEIVER}${CERTS}` });
const bare = createApp(() => new EnsembleRegistry([], {}, stepKinds));
const req = (path: string, init: RequestInit = {}) => bare.fetch(new Request(`http://worker.test${path}`, init), accessEnv());

const gate = (name: string, hook: string, inputs: string) => hitlApp(name, `agents:
  - name: review
    agent: hitl
    inputs: { data: 1, prompt: Look, ${inputs} }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);

describe('operations attacks found in review stay fixed', () => {
  it('D1: any valid Access identity (here: the approver herself) is admitted to /admin as an operator and can cancel runs', async () => {
    const name = `zz10a-${crypto.randomUUID().slice(0, 8)}`;
    const app = gate(name, `/zz10a-${crypto.randomUUID()}`, 'approvers: [ann@example.com]');
    const id = await suspend(app, name);
    // Ann holds only a review link; with Access protecting /callback she has a CF_Authorization
    // JWT for this AUD, which she can replay as a header on /admin.
    const ann = { 'cf-access-jwt-assertion': await assertion('ann@example.com') };
    const home = await req('/admin', { headers: ann });
    const page = await req(`/admin/executions/${id}`, { headers: ann });
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1];
    const cancel = await req(`/admin/executions/${id}/cancel`, {
      method: 'POST', headers: { ...ann, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' }, body: `csrf=${csrf}&reason=mine`,
    });
    const after = (await (await app.request(`/executions/${id}`, { headers: auth })).json()) as any;
    // Expected: not an operator (no allow-list / separate admin AUD) -> not admitted, run untouched.
    expect({ home: home.status, cancel: cancel.status, run: after.status }).toEqual({ home: 303, cancel: 401, run: 'suspended' });
  });

  it('an Access identity listed in ADMIN_EMAILS is an operator (and its forms still need the CSRF token)', async () => {
    const ops = { 'cf-access-jwt-assertion': await assertion('Ops@Example.com') };
    const admin = createApp(() => new EnsembleRegistry([], {}, stepKinds));
    const as = (path: string, init: RequestInit = {}) => admin.fetch(new Request(`http://worker.test${path}`, init), { ...accessEnv(), ADMIN_EMAILS: 'ops@example.com, lead@example.com' });
    const home = await as('/admin', { headers: ops });
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('signed in as Ops@Example.com');
    const noToken = await as('/admin/logout', { method: 'POST', headers: { ...ops, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' }, body: '' });
    expect(noToken.status).toBe(403);
  });

  it('D2: the hourly purge removes at most 500 rows per run (12k/day): retention falls behind', async () => {
    const old = Date.now() - 40 * 86_400_000;
    const prefix = `zz10old${crypto.randomUUID().slice(0, 6)}`;
    const rows = Array.from({ length: 600 }, (_, i) => env.DB!.prepare("INSERT INTO executions (id, ensemble, status, created_at, updated_at, version) VALUES (?, 'old', 'completed', ?, ?, 1)").bind(`${prefix}-${i}`, old, old));
    await env.DB!.batch(rows);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '17 * * * *' }), env as never, ctx);
    await waitOnExecutionContext(ctx);
    const left = await env.DB!.prepare('SELECT COUNT(*) AS n FROM executions WHERE id LIKE ?').bind(`${prefix}-%`).first<{ n: number }>();
    expect(left!.n).toBe(0);
  });

  it('D3: GET /stats with a large window answers 500 instead of 400', async () => {
    const res = await appWith({}).request('/stats?window=99999999999999d', { headers: auth });
    expect(res.status).toBe(400);
  });

  it('D4: an automatic onTimeout: approve is counted as a human decision in /stats latency', async () => {
    const hook = `/zz10t-${crypto.randomUUID()}`;
    const name = `zz10t-${crypto.randomUUID().slice(0, 8)}`;
    const app = gate(name, hook, 'approvers: [a@example.com], timeout: 1, onTimeout: approve');
    const count = async () => ((await (await app.request('/stats?window=1h', { headers: auth })).json()) as any).decisions.count as number;
    const before = await count();
    const id = await suspend(app, name);
    await hitsAt(hook, 1);
    await new Promise((r) => setTimeout(r, 1100));
    await fireAlarm(id);
    await app.until(id, 'completed');
    // The index learns the outcome right after the object does.
    await eventually(async () => {
      const row = await env.DB!.prepare('SELECT outcome, closed_at - requested_at AS ms FROM approval_requests WHERE execution_id = ?').bind(id).first();
      expect({ row, added: (await count()) - before }).toEqual({ row: expect.objectContaining({ outcome: 'timeout' }), added: 0 });
    });
  });

  it('D5: EXECUTION_RETENTION_DAYS="" (or blank) means 0 days, i.e. delete everything at once, not the default', () => {
    expect(retentionDays({ ...env, EXECUTION_RETENTION_DAYS: '' } as never)).toBe(30);
    expect(retentionDays({ ...env, EXECUTION_RETENTION_DAYS: ' ' } as never)).toBe(30);
  });
});

describe('and what the review found holding (console)', () => {
  it('console escapes run data; JSON / missing-token bodies are refused; HEAD/OPTIONS unauthenticated get nothing', async () => {
    const name = `zz10x-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: `agents:
  - name: "boom"
    operation: http
    config: { url: "http://127.0.0.1:1/<img src=x onerror=alert(1)>" }
` });
    const r = await app.run(name, {});
    const id = r.body.executionId;
    const page = await (await app.request(`/admin/executions/${id}`, { headers: auth })).text();
    expect(page).not.toContain('<img src=x');
    const home = await (await app.request(`/admin?ensemble=%22%3E%3Cscript%3E&approver=%3Cb%3E&cursor=%22%3E%3Cx`, { headers: auth })).text();
    expect(home).not.toContain('"><script>');
    expect(home).not.toContain('<b>');
    for (const method of ['HEAD', 'OPTIONS', 'PUT']) expect([200, 204]).not.toContain((await app.request('/admin', { method })).status);
    for (const p of ['/ADMIN', '/admin//', '/admin/login/../', '/admin/login/..%2f', '/admin/%6cogin/../executions/x']) {
      const res = await app.request(p);
      expect(res.status === 200 ? await res.text() : '').not.toContain('Approvals and runs');
    }
    const login = await app.request('/admin/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'key=test-api-key' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect(login.headers.get('location')).toBe('/admin');
    const json = await app.request(`/admin/executions/${id}/notify`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'sec-fetch-site': 'none' }, body: '{"csrf":"x"}' });
    expect(json.status).toBe(403);
  });
});

describe('and what the review found holding (index)', () => {
  it('escalation adds the new approver to the index and to ?approver=', async () => {
    const hook = `/zz10e-${crypto.randomUUID()}`;
    const name = `zz10e-${crypto.randomUUID().slice(0, 8)}`;
    const app = gate(name, hook, 'approvers: [a@example.com], escalateAfter: 1, escalateTo: [Boss@Example.com]');
    const id = await suspend(app, name);
    await hitsAt(hook, 1);
    await new Promise((r) => setTimeout(r, 1100));
    await hitsAt(hook, 2, id);
    await eventually(async () => {
      const row = ((await (await app.request(`/executions?ensemble=${name}`, { headers: auth })).json()) as any).executions[0];
      expect(row.pending.approvers).toEqual(['a@example.com', 'Boss@Example.com']);
    });
    const byBoss = ((await (await app.request('/executions?approver=boss@example.com', { headers: auth })).json()) as any).executions;
    expect(byBoss.some((e: any) => e.executionId === id)).toBe(true);
  });
});

import { SELF, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app';
import { appWith, auth } from './helpers';

const ok = `agents:
  - name: a
    operation: code
    config: { script: echo }
`;
const broken = `agents:
  - name: a
    operation: code
    config: { script: missing }
`;

describe('management routes need the API key', () => {
  it('401 without or with a wrong key, 200 with it', async () => {
    const { request } = appWith({ ok }, { echo: { default: () => ({}) } });
    expect((await request('/ensembles')).status).toBe(401);
    const wrong = await request('/ensembles', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'missing or invalid API key' } });
    expect((await request('/ensembles/ok', { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await request('/executions/exe_1')).status).toBe(401);
    expect((await request('/ensembles', { headers: auth })).status).toBe(200);
  });

  // The configured key's digest is cached per isolate: a rotated key must take effect at once.
  it('a rotated API key: the old key is refused and the new one accepted from the next request on', async () => {
    const app = createApp();
    const as = (key: string, configured: string) => app.fetch(new Request('http://worker.test/ensembles', { headers: { authorization: `Bearer ${key}` } }), { ...env, API_KEY: configured });
    expect((await as('key-one-0123456789', 'key-one-0123456789')).status).toBe(200);
    expect((await as('key-one-0123456789', 'key-two-0123456789')).status).toBe(401);
    expect((await as('key-two-0123456789', 'key-two-0123456789')).status).toBe(200);
    expect((await as('key-two-0123456789', 'key-one-0123456789')).status).toBe(401);
  });

  // The comparison is constant-time over bytes and needs equal lengths: every near miss is refused.
  it('near misses of the key are refused: prefixes, extensions, one byte off, case, other encodings', async () => {
    const app = createApp();
    const key = 'key-one-0123456789';
    const as = (presented: string) => app.fetch(new Request('http://worker.test/ensembles', { headers: { authorization: `Bearer ${presented}` } }), { ...env, API_KEY: key });
    for (const near of [key.slice(0, -1), `${key}0`, `${key.slice(0, -1)}8`, key.toUpperCase(), `${key.slice(0, -1)}\u00e9`, `${key.slice(0, -2)}\u00e9`, 'k']) {
      expect((await as(near)).status, near).toBe(401);
    }
    expect((await as(key)).status).toBe(200);
  });

  it('closed (503) when no API_KEY is configured', async () => {
    const app = createApp();
    const res = await app.fetch(new Request('http://w/ensembles', { headers: auth }), { ...env, API_KEY: undefined });
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error.code).toBe('API_KEY_NOT_CONFIGURED');
  });
});

describe('errors use one envelope with the right status', () => {
  it('404 for an unknown ensemble and an unknown route', async () => {
    const { request } = appWith({ ok }, { echo: { default: () => ({}) } });
    const res = await request('/ensembles/nope', { method: 'POST', headers: auth, body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: "ensemble 'nope' not found" } });
    const route = await request('/nowhere');
    expect(route.status).toBe(404);
    expect(((await route.json()) as any).error.code).toBe('NOT_FOUND');
  });

  it('400 for a body that is not JSON or not an object', async () => {
    const { request } = appWith({ ok }, { echo: { default: () => ({}) } });
    const notJson = await request('/ensembles/ok', { method: 'POST', headers: auth, body: '{oops' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as any).error.code).toBe('INVALID_JSON');
    const array = await request('/ensembles/ok', { method: 'POST', headers: auth, body: '[1,2]' });
    expect(array.status).toBe(400);
    const body = (await array.json()) as any;
    expect(body.error.code).toBe('INVALID_INPUT');
    expect(body.error.details[0].message).toBe('the run input must be a JSON object');
  });

  it('422 with every load problem for an ensemble that does not load; others still run', async () => {
    const { request, run } = appWith({ ok, broken }, { echo: { default: () => ({ fine: true }) } });
    const res = await request('/ensembles/broken', { method: 'POST', headers: auth, body: '{}' });
    expect(res.status).toBe(422);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe('ENSEMBLE_INVALID');
    expect(body.error.details[0]).toMatchObject({ file: 'ensembles/broken.yaml', line: 4, column: 23, code: 'unknown-script' });
    expect((await run('ok')).body.output).toEqual({ a: { fine: true } });
    const list = (await (await request('/ensembles', { headers: auth })).json()) as any;
    expect(list.ensembles.map((e: any) => [e.name, e.valid])).toEqual([['ok', true], ['broken', false]]);
  });

  it('two files with the same ensemble name: the first serves, the second is reported', async () => {
    const { request, run } = appWith({ a: `ensemble: same\n${ok}`, b: `ensemble: same\n${ok}` }, { echo: { default: () => ({ from: 'a' }) } });
    expect((await run('same')).body.output).toEqual({ a: { from: 'a' } });
    const list = (await (await request('/ensembles', { headers: auth })).json()) as any;
    const clash = list.ensembles.find((e: any) => e.file === 'ensembles/b.yaml');
    expect(clash).toMatchObject({ name: 'same', valid: false, problems: [{ code: 'duplicate-ensemble', message: "ensemble 'same' is also defined in ensembles/a.yaml" }] });
  });

  it('GET /ensembles/:name shows the definition', async () => {
    const { request } = appWith({ ok }, { echo: { default: () => ({}) } });
    const body = (await (await request('/ensembles/ok', { headers: auth })).json()) as any;
    expect(body).toMatchObject({ name: 'ok', file: 'ensembles/ok.yaml', steps: [{ name: 'a', operation: 'code' }], source: ok });
  });
});

describe('the deployed Worker serves the ensembles/ directory', () => {
  it('runs the bundled hello example', async () => {
    const res = await SELF.fetch('http://w/ensembles/hello', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ada', shout: true }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).output).toEqual({ message: 'HELLO, ADA!', length: 11, shouted: true });
  });
});

describe('request size limits', () => {
  it('413 for an oversized decision or run input', async () => {
    const { request } = appWith({ ok }, { echo: { default: () => ({}) } });
    const big = JSON.stringify({ approved: true, feedback: 'x'.repeat(70 * 1024) });
    const decision = await request(`/callback/exe_${'0'.repeat(32)}.${'a'.repeat(32)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(decision.status).toBe(413);
    expect(((await decision.json()) as any).error.code).toBe('PAYLOAD_TOO_LARGE');
    const input = await request('/ensembles/ok', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ x: 'y'.repeat(1100 * 1024) }) });
    expect(input.status).toBe(413);
  });
});

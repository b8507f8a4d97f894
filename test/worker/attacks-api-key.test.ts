// The API key is compared in constant time over its UTF-8 bytes (src/http/auth.ts): header
// spellings, lengths and encodings an attacker may send, the console login form, and rotation.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app';
import { isApiKey } from '../../src/http/auth';

const KEY = 'key-one-0123456789';
const app = createApp();
const get = (headers: HeadersInit, key: unknown = KEY, path = '/ensembles') => app.fetch(new Request(`http://worker.test${path}`, { headers }), { ...env, API_KEY: key } as never);

describe('API key spellings: every near miss is refused, nothing answers 500', () => {
  it('header variants', async () => {
    const cases: [HeadersInit, number][] = [
      [{ authorization: `Bearer ${KEY}` }, 200],
      [{ authorization: `bearer ${KEY}` }, 200],
      [{ authorization: `BEARER\t${KEY}  ` }, 200],
      [{ authorization: `Bearer ${KEY.toUpperCase()}` }, 401],
      [{ authorization: 'Bearer ' }, 401],
      [{ authorization: 'Bearer      ' }, 401],
      [{ authorization: 'Bearer' }, 401],
      [{ authorization: `Basic ${btoa(`x:${KEY}`)}` }, 401],
      [{ authorization: `Bearer ${KEY}\u00a0` }, 200], // bearerKey's trim() strips NBSP (unchanged code; harmless)
      [{ authorization: `Bearer ${'k'.repeat(100_000)}` }, 401],
      [{ authorization: `Bearer ${KEY}${'\u00ff'.repeat(5)}` }, 401],
      [[['authorization', `Bearer ${KEY}`], ['authorization', `Bearer ${KEY}`]], 401],
      [[['authorization', 'Bearer nope'], ['authorization', `Bearer ${KEY}`]], 401],
    ];
    const got = [];
    for (const [h, want] of cases) got.push([(await get(h)).status, want]);
    expect(got.map(([g]) => g)).toEqual(got.map(([, w]) => w));
    for (const p of ['/admin', '/admin/runs']) {
      expect((await get({ authorization: 'Bearer ' + 'k'.repeat(100_000) }, KEY, p)).status).not.toBe(500);
    }
  });

  it('isApiKey: no throw on any length or content, and key rotation in one isolate', () => {
    const odd = ['', '\u0000', '\ud800', '\udc00\ud800', 'é', '😀', 'x'.repeat(1_000_000), KEY + '\u0000', KEY.slice(0, -1) + '\ud800'];
    for (const p of odd) expect(isApiKey(p, KEY)).toBe(false);
    expect(isApiKey(KEY, KEY)).toBe(true);
    expect(isApiKey(KEY, 'other-key-0123456')).toBe(false);
    expect(isApiKey('other-key-0123456', 'other-key-0123456')).toBe(true);
    expect(isApiKey(KEY, KEY)).toBe(true);
    expect(isApiKey('clé-ключ-🔑', 'clé-ключ-🔑')).toBe(true);
  });

  it('login form: odd keys give the login page, never 500', async () => {
    for (const key of ['', 'x'.repeat(2_000_000), '\u0000', KEY + ' ', ' ' + KEY]) {
      const body = new URLSearchParams({ key });
      const res = await app.fetch(new Request('http://worker.test/admin/login', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }), { ...env, API_KEY: KEY } as never);
      expect(res.status, key.slice(0, 10)).not.toBe(500);
      expect(res.status, key.slice(0, 10)).not.toBe(303);
    }
    const ok = await app.fetch(new Request('http://worker.test/admin/login', { method: 'POST', body: new URLSearchParams({ key: KEY }), headers: { 'content-type': 'application/x-www-form-urlencoded' } }), { ...env, API_KEY: KEY } as never);
    expect(ok.status).toBe(303);
    // multipart with a file named key
    const fd = new FormData(); fd.append('key', new File([KEY], 'k.txt'));
    const file = await app.fetch(new Request('http://worker.test/admin/login', { method: 'POST', body: fd }), { ...env, API_KEY: KEY } as never);
    expect(file.status).not.toBe(500);
    expect(file.status).not.toBe(303);
  });
});

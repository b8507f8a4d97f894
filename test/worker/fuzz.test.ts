import { describe, expect, it } from 'vitest';
import { auth } from './helpers';
import { hitlApp, hitsAt, suspend, tokenOf } from './hitl-helpers';

// Thousands of generated bodies, fixed seed: whatever a client sends, the edge answers 2xx or 4xx in
// the usual envelope, never 5xx.

function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Body = { type?: string; body: string | Uint8Array };

function generator(seed: number) {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const text = () => {
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '{', '}', '[', ']', ':', ',', '\n', '\u0000', '\u200b', '\u202e', '\ud800', '😀', 'é', '%', '&', '=', '-', '<', '>'];
    return Array.from({ length: int(40) }, () => pick(alphabet)).join('');
  };
  const value = (depth: number): unknown => {
    const kind = depth > 6 ? int(5) : int(8);
    switch (kind) {
      case 0: return null;
      case 1: return r() < 0.5;
      case 2: return pick([0, -1, 1e308, -1e-308, 2 ** 53 + 1, 3.14]);
      case 3: return text();
      case 4: return pick(['true', 'false', 'approve', 'reject', '', 'yes']);
      case 5: return Array.from({ length: int(5) }, () => value(depth + 1));
      default: return Object.fromEntries(Array.from({ length: int(6) }, () => [pick(['approved', 'approver', 'feedback', 'reason', 'name', 'shout', '__proto__', 'constructor', text()]), value(depth + 1)]));
    }
  };
  // A lone surrogate cannot be URI-encoded: send its raw (invalid UTF-8) bytes instead.
  const enc = (s: string) => { try { return encodeURIComponent(s); } catch { return '%ED%A0%80'; } };
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  const multipart = (): Body => {
    const boundary = `b${int(1e6)}`;
    const declared = pick([`multipart/form-data; boundary=${boundary}`, 'multipart/form-data', `multipart/form-data; boundary=other${int(9)}`, 'multipart/form-data; boundary=', `multipart/mixed; boundary=${boundary}`]);
    const parts = Array.from({ length: int(4) }, () => `--${boundary}\r\nContent-Disposition: form-data; name="${pick(['approved', 'approver', 'x', text()])}"${r() < 0.3 ? '; filename="f.bin"' : ''}\r\n\r\n${text()}\r\n`).join('');
    return { type: declared, body: parts + (r() < 0.5 ? `--${boundary}--\r\n` : text()) };
  };
  return (): Body => {
    switch (int(10)) {
      case 0: return { type: 'application/json', body: JSON.stringify(value(0)) };
      case 1: return { type: pick(['application/json', 'text/plain', undefined]), body: r() < 0.5 ? deep(1000 + int(5000)) : deepObject(1000 + int(5000)) };
      case 2: return multipart();
      case 3: return { type: 'application/x-www-form-urlencoded', body: Array.from({ length: int(5) }, () => `${enc(pick(['approved', 'approver', 'reason', text()]))}=${r() < 0.5 ? enc(text()) : '%E0%A4%A'}`).join('&') };
      case 4: return { type: pick(['application/xml', 'image/png', 'application/octet-stream', 'text/html', 'application/json; charset=utf-16']), body: text() };
      case 5: return { type: 'application/json', body: Uint8Array.from({ length: int(64) }, () => int(256)) };
      case 6: return { type: 'application/json', body: text() };
      case 7: return { type: 'application/json', body: JSON.stringify({ approved: pick([true, false, 'true', 'reject', 1]), approver: text(), feedback: r() < 0.1 ? 'f'.repeat(70_000) : text(), reason: text() }) };
      case 8: return { type: undefined, body: JSON.stringify(value(0)) };
      default: return { type: 'application/json', body: JSON.stringify({ name: text(), shout: value(3), extra: value(2) }) };
    }
  };
}

describe('the HTTP edge never answers 5xx to a bad request', () => {
  it('2,500 generated bodies to /ensembles/* and 2,500 to /callback/* (seed 8): zero 5xx', async () => {
    const hook = `/fuzz-${crypto.randomUUID()}`;
    const app = hitlApp('fuzz', `inputs:
  name: { type: string, required: true }
  shout: { type: boolean }
agents:
  - name: approve
    agent: hitl
    inputs: { data: \${input}, prompt: Fuzz, approvers: [a@example.com, b@example.com], minApprovals: 2 }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    await suspend(app, 'fuzz', { name: 'x' });
    const [hit] = await hitsAt(hook, 1);
    const tokens = [tokenOf(hit.json.callbackUrl), tokenOf(hit.json.approvers[0].callbackUrl), 'exe_00000000000000000000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'not-a-token', '%00', '..%2F..'];
    const next = generator(8);
    const statuses = new Map<number, number>();
    const fivexx: string[] = [];
    const send = async (path: string, extra: Record<string, string>) => {
      const { type, body } = next();
      const res = await app.request(path, { method: 'POST', headers: { ...extra, ...(type ? { 'content-type': type } : {}) }, body });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      // JSON.stringify escapes lone surrogates, so a failure report is always printable.
      if (res.status >= 500) fivexx.push(JSON.stringify({ path, type, body: typeof body === 'string' ? body.slice(0, 120) : '[bytes]', status: res.status, answer: (await res.text()).slice(0, 200) }));
      else await res.body?.cancel();
    };
    for (let i = 0; i < 2500; i++) await send(i % 5 === 0 ? '/ensembles/missing' : '/ensembles/fuzz', auth);
    for (let i = 0; i < 2500; i++) await send(`/callback/${tokens[i % tokens.length]}`, {});
    expect(fivexx).toEqual([]);
    // The generator reached every kind of answer the edge gives: accepted, refused, too large, unsupported.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 202, 400, 404, 413, 415]));
  }, 120_000);
});

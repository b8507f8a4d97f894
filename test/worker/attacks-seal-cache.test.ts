import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/env';
import { seal, unseal } from '../../src/hitl/seal';
import { ExecutionStore } from '../../src/hitl/store';
import { ApprovalRequest } from '../../src/hitl/request';
import { stubOf } from './hitl-helpers';

// From an adversarial review of the per-isolate seal keys and the per-object spec cache.
// Every sealed value is checked against an independent reference (a fresh HKDF derivation every
// time, nothing cached), so a wrong key kept in the cache would show up as a mismatch.

const enc = new TextEncoder();
const withSecret = (secret: string) => ({ HITL_TOKEN_SECRET: secret }) as unknown as Env;

async function refKey(secret: string, id: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', enc.encode(secret), 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: enc.encode('hitl-links-v1'), info: enc.encode(id) },
    base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'],
  );
}
async function refSeal(secret: string, id: string, value: unknown): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await refKey(secret, id), enc.encode(JSON.stringify(value)));
  return `${Buffer.from(iv).toString('base64')}.${Buffer.from(data).toString('base64')}`;
}
async function refOpens(secret: string, id: string, sealed: string): Promise<unknown> {
  const [iv, data] = sealed.split('.');
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: Buffer.from(iv!, 'base64') }, await refKey(secret, id), Buffer.from(data!, 'base64'));
    return JSON.parse(new TextDecoder().decode(plain));
  } catch {
    return undefined;
  }
}

function shuffle<T>(a: T[], seed: number): T[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const ODD_IDS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'exe_' + 'a'.repeat(32), 'EXE_' + 'A'.repeat(32), 'e\u0301', '\u00e9'];

describe('seal keys kept per isolate', () => {
  it('interleaved seals and unseals under three secrets (rotations mid-await, A-B-A) never use another secret\'s or execution\'s key', async () => {
    const secrets = ['secret-A', 'secret-B', 'secret-C'];
    const ids = [...Array.from({ length: 20 }, (_, i) => `exe_${i.toString(16).padStart(32, '0')}`), ...ODD_IDS];
    for (let round = 0; round < 4; round++) {
      const pairs = secrets.flatMap((secret) => ids.map((id) => ({ secret, id })));
      const reference = await Promise.all(pairs.map(async (p) => refSeal(p.secret, p.id, { ...p, round })));
      type Job = { kind: 'seal' | 'unseal'; i: number };
      const jobs: Job[] = shuffle(pairs.flatMap((_, i) => [{ kind: 'seal' as const, i }, { kind: 'unseal' as const, i }]), round + 1);
      // All started before any finishes: every keyFor interleaves with the others at each await.
      const results = await Promise.all(jobs.map(async (j) => {
        const p = pairs[j.i]!;
        if (j.kind === 'seal') return { j, out: await seal(withSecret(p.secret), p.id, { ...p, round }) };
        return { j, out: await unseal(withSecret(p.secret), p.id, reference[j.i]!).catch((e) => `threw: ${e}`) };
      }));
      for (const { j, out } of results) {
        const p = pairs[j.i]!;
        if (j.kind === 'unseal') { expect(out).toEqual({ ...p, round }); continue; }
        expect(await refOpens(p.secret, p.id, out as string)).toEqual({ ...p, round });
        const otherSecret = secrets[(secrets.indexOf(p.secret) + 1) % secrets.length]!;
        expect(await refOpens(otherSecret, p.id, out as string)).toBeUndefined();
        const otherId = ids[(ids.indexOf(p.id) + 1) % ids.length]!;
        expect(await refOpens(p.secret, otherId, out as string)).toBeUndefined();
      }
      // Whatever is cached now (for the last secret that won), each pair still opens only its own.
      for (const [i, p] of pairs.entries()) {
        expect(await unseal(withSecret(p.secret), p.id, reference[i]!)).toEqual({ ...p, round });
        const other = pairs[(i + ids.length) % pairs.length]!; // same id, next secret
        await expect(unseal(withSecret(p.secret), p.id, reference[(i + ids.length) % pairs.length]!)).rejects.toThrow();
        expect(other.id).toBe(p.id);
      }
    }
  });

  it('a rotation while a derivation is in flight: the old key is returned to its caller but not kept', async () => {
    const id = 'exe_' + 'b'.repeat(32);
    const other = 'exe_' + 'e'.repeat(32);
    await seal(withSecret('rot-A'), other, 0); // the isolate holds rot-A's base key
    // B starts first (imports its base key), A derives `id` meanwhile from rot-A's base; B's import
    // lands first and replaces the base, then A's derivation lands: it must not be kept under B.
    const [b0, a] = await Promise.all([seal(withSecret('rot-B'), other, 'b0'), seal(withSecret('rot-A'), id, 'a')]);
    expect([await refOpens('rot-B', other, b0), await refOpens('rot-A', id, a)]).toEqual(['b0', 'a']);
    const b = await refSeal('rot-B', id, 'b');
    expect(await unseal(withSecret('rot-B'), id, b)).toBe('b');
    await expect(unseal(withSecret('rot-B'), id, a)).rejects.toThrow();
    // And A-B-A: back on rot-A, everything opens as sealed.
    expect(await unseal(withSecret('rot-A'), id, a)).toBe('a');
    await expect(unseal(withSecret('rot-A'), id, b)).rejects.toThrow();
  });

  it('__proto__-like ids are ordinary Map keys: each opens only its own', async () => {
    const s = withSecret('odd');
    const sealed = await Promise.all(ODD_IDS.map((id) => seal(s, id, { id })));
    for (const [i, id] of ODD_IDS.entries()) {
      expect(await unseal(s, id, sealed[i]!)).toEqual({ id });
      for (const [k, other] of ODD_IDS.entries()) if (k !== i) await expect(unseal(s, other, sealed[i]!)).rejects.toThrow();
    }
  });

  it('more than 256 executions, then the first again: its evicted key is derived again, correctly', async () => {
    const s = withSecret('evict');
    const first = 'exe_' + 'c'.repeat(32);
    const sealedFirst = await seal(s, first, 'first');
    await Promise.all(Array.from({ length: 300 }, (_, i) => seal(s, `exe_evict_${i}`, i)));
    expect(await unseal(s, first, sealedFirst)).toBe('first');
    expect(await refOpens('evict', first, await seal(s, first, 'again'))).toBe('again');
  });

  it('a key cached in one request context is usable in another (a Durable Object\'s), both ways', async () => {
    const s = withSecret('contexts');
    const id = 'exe_' + 'd'.repeat(32);
    const sealedHere = await seal(s, id, 'here');
    const stub = stubOf(`review-ctx-${crypto.randomUUID()}`);
    const sealedThere = await runInDurableObject(stub, async () => {
      expect(await unseal(s, id, sealedHere)).toBe('here');
      return seal(s, id, 'there');
    });
    expect(await unseal(s, id, sealedThere)).toBe('there');
  });
});

const baseSpec = (over: Partial<ApprovalRequest> = {}): ApprovalRequest => ApprovalRequest.parse({
  step: 'review', prompt: 'Ship?', data: { items: [1, 2, 3] }, approvers: ['a@example.com'], minApprovals: 1,
  timeoutMs: 60_000, onTimeout: 'continue', channels: ['webhook'], notification: {}, baseUrl: 'https://x.example', ...over,
});
const approval = { status: 'pending', approvers: ['a@example.com'], minApprovals: 1, expiresAt: Date.now() + 60_000, onTimeout: 'continue', approvals: [] } as never;

/** A new object's store with one request, and a way to rewrite a spec the way an old row or a hand edit would. */
async function withRequest(fn: (store: ExecutionStore, id: number, rewrite: (id: number, text: string) => void) => void): Promise<void> {
  await runInDurableObject(stubOf(`spec-${crypto.randomUUID()}`), async (_instance, state) => {
    const store = new ExecutionStore(state.storage.sql);
    store.create();
    fn(store, store.insertRequest(baseSpec(), approval, Date.now(), 'sealed'), (id, text) => state.storage.sql.exec('UPDATE request SET spec = ? WHERE id = ?', text, id));
  });
}

describe('request specs kept per object', () => {
  it('each request reads its own spec, parsed again when its text changes, frozen against writes through a shared read', async () => {
    await withRequest((store, one, rewrite) => {
      const two = store.insertRequest(baseSpec(), approval, Date.now(), 'sealed');
      const a = store.requestById(one)!;
      expect(store.requestById(one)!.spec).toBe(a.spec);
      expect(store.firstRequest()!.spec).toBe(a.spec);
      // Not stale: a different stored text gives its own parse, and the other request keeps its own.
      rewrite(two, JSON.stringify(baseSpec({ prompt: 'Changed?' })));
      expect(store.requestById(two)!.spec.prompt).toBe('Changed?');
      expect(store.requestById(one)!.spec.prompt).toBe('Ship?');
      // A write through one read would be seen by every later read: the shared spec refuses it.
      const x = store.requestById(one)!;
      expect(() => x.spec.channels.push('email')).toThrow(TypeError);
      expect(() => { (x.spec.data as { items: number[] }).items[0] = 9; }).toThrow(TypeError);
      expect(store.requestById(one)!.spec.channels).toEqual(['webhook']);
      store.forget();
      expect(store.requestById(one)!.spec).not.toBe(a.spec);
    });
  });

  it('a stored spec 10,000 levels deep (steps refuse past 64; an old or hand-edited row) is read and frozen, no stack overflow', async () => {
    await withRequest((store, id, rewrite) => {
      const deep = JSON.stringify(baseSpec()).replace('"data":{"items":[1,2,3]}', `"data":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`);
      rewrite(id, deep);
      const read = store.requestById(id)!;
      let level: any = read.spec.data;
      for (let i = 0; i < 9_999; i++) level = level.a;
      expect(level).toEqual({ a: 1 });
      expect(Object.isFrozen(level)).toBe(true);
    });
  });
});

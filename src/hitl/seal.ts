import type { Env } from '../env';

// Links must be re-sent (retries, reminders, escalation) while a request is open, but tokens are
// stored only as hashes. So the open request's links are kept sealed with AES-GCM under a key
// derived from a Worker secret (never stored in the object), and deleted when the request closes.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Keys are derived once per isolate (per secret and execution), not on every seal and unseal: an
// object seals a request's links when it opens and unseals them for every notification. The
// resolved keys are kept, never a pending promise (promises do not cross requests in workerd).
let base: { secret: string; key: CryptoKey } | undefined;
const derived = new Map<string, CryptoKey>();
const DERIVED_KEPT = 256;

async function keyFor(env: Env, executionId: string): Promise<CryptoKey> {
  const secret = (typeof env.HITL_TOKEN_SECRET === 'string' && env.HITL_TOKEN_SECRET) || env.API_KEY;
  if (!secret) throw new Error('HITL_TOKEN_SECRET or API_KEY must be set to seal approval links');
  if (base?.secret !== secret) {
    // The first call, or another secret: keys derived from the old one are no longer kept.
    base = { secret, key: await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey']) };
    derived.clear();
  }
  const known = derived.get(executionId);
  if (known) return known;
  const from = base.key;
  const key = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode('hitl-links-v1'), info: encoder.encode(executionId) },
    from,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
  // Kept only if the secret did not change while this one was derived.
  if (base?.secret === secret) {
    if (!derived.has(executionId) && derived.size >= DERIVED_KEPT) derived.delete(derived.keys().next().value!);
    derived.set(executionId, key);
  }
  return key;
}

export async function seal(env: Env, executionId: string, value: unknown): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await keyFor(env, executionId), encoder.encode(JSON.stringify(value)));
  return `${Buffer.from(iv).toString('base64')}.${Buffer.from(data).toString('base64')}`;
}

export async function unseal<T>(env: Env, executionId: string, sealed: string): Promise<T> {
  const [iv, data] = sealed.split('.');
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: Buffer.from(iv!, 'base64') },
    await keyFor(env, executionId),
    Buffer.from(data!, 'base64'),
  );
  return JSON.parse(decoder.decode(plain)) as T;
}

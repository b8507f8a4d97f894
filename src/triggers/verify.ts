// Who sent a webhook: one verifier per signature scheme, each on the raw body before anything
// parses it, each comparing in constant time. A verifier answers true or false; the route answers
// 401 for false without saying which part failed (a prober learns nothing).

export type Scheme = 'github' | 'stripe' | 'slack' | 'hmac-sha256';

const encoder = new TextEncoder();

async function hmacHex(secret: string, message: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, message));
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Two hex strings equal, in time that depends only on their lengths. */
function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

export interface Signed {
  headers: Headers;
  body: Uint8Array;
  secret: string;
  /** Seconds a signed timestamp may be old (stripe, slack). */
  toleranceS: number;
  nowS: number;
}

/** GitHub: `X-Hub-Signature-256: sha256=<hex of HMAC(secret, body)>`. */
async function github({ headers, body, secret }: Signed): Promise<boolean> {
  const sig = headers.get('x-hub-signature-256') ?? '';
  if (!/^sha256=[0-9a-f]{64}$/.test(sig)) return false;
  return sameHex(sig.slice(7), await hmacHex(secret, body));
}

/** Stripe: `Stripe-Signature: t=<ts>,v1=<hex of HMAC(secret, "<ts>." + body)>` (any v1 may match). */
async function stripe({ headers, body, secret, toleranceS, nowS }: Signed): Promise<boolean> {
  const header = headers.get('stripe-signature') ?? '';
  if (header.length > 2048) return false;
  const pairs = header.split(',').map((p) => p.trim().split('='));
  const t = pairs.find(([k]) => k === 't')?.[1];
  const v1 = pairs.filter(([k, v]) => k === 'v1' && /^[0-9a-f]{64}$/.test(v ?? '')).map(([, v]) => v!);
  if (!t || !/^\d{1,12}$/.test(t) || v1.length === 0 || v1.length > 8) return false;
  if (Math.abs(nowS - Number(t)) > toleranceS) return false;
  const expected = await hmacHex(secret, concat(encoder.encode(`${t}.`), body));
  let ok = false;
  for (const v of v1) ok = sameHex(v, expected) || ok;
  return ok;
}

/** Slack: `X-Slack-Signature: v0=<hex of HMAC(secret, "v0:<ts>:" + body)>`, `X-Slack-Request-Timestamp`. */
async function slack({ headers, body, secret, toleranceS, nowS }: Signed): Promise<boolean> {
  const sig = headers.get('x-slack-signature') ?? '';
  const ts = headers.get('x-slack-request-timestamp') ?? '';
  if (!/^v0=[0-9a-f]{64}$/.test(sig) || !/^\d{1,12}$/.test(ts)) return false;
  if (Math.abs(nowS - Number(ts)) > toleranceS) return false;
  return sameHex(sig.slice(3), await hmacHex(secret, concat(encoder.encode(`v0:${ts}:`), body)));
}

/** Generic: `X-Signature: sha256=<hex of HMAC(secret, body)>`. */
async function hmac({ headers, body, secret }: Signed): Promise<boolean> {
  const sig = headers.get('x-signature') ?? '';
  if (!/^sha256=[0-9a-f]{64}$/.test(sig)) return false;
  return sameHex(sig.slice(7), await hmacHex(secret, body));
}

export const verifiers = { github, stripe, slack, 'hmac-sha256': hmac } satisfies Record<Scheme, (s: Signed) => Promise<boolean>>;

/** What a signing sender computes, for tests and for documentation of each scheme. */
export const sign = {
  github: async (secret: string, body: string) => ({ 'x-hub-signature-256': `sha256=${await hmacHex(secret, encoder.encode(body))}` }),
  'hmac-sha256': async (secret: string, body: string) => ({ 'x-signature': `sha256=${await hmacHex(secret, encoder.encode(body))}` }),
  stripe: async (secret: string, body: string, t: number) => ({ 'stripe-signature': `t=${t},v1=${await hmacHex(secret, encoder.encode(`${t}.${body}`))}` }),
  slack: async (secret: string, body: string, t: number) => ({ 'x-slack-signature': `v0=${await hmacHex(secret, encoder.encode(`v0:${t}:${body}`))}`, 'x-slack-request-timestamp': String(t) }),
};

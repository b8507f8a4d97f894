import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// The console's session: a cookie `<id>.<expiry>.<HMAC>` signed with a key derived from the API key,
// so rotating the key ends every session, and whose id (its SHA-256) is a row of the AdminGuard
// object, so signing out ends it at once. CSRF tokens are derived from the key and the session.

const COOKIE = 'hitl_admin';
const TTL_MS = 8 * 3_600_000;

const keyOf = (apiKey: string) => createHmac('sha256', apiKey).update('hitl-admin-session-v1').digest();
const sign = (apiKey: string, text: string) => createHmac('sha256', keyOf(apiKey)).update(text).digest('base64url');

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A new session: its cookie value (valid for 8 hours), the id's hash to store, and its expiry. */
export function newSession(apiKey: string, now = Date.now()): { value: string; hash: string; expiresAt: number } {
  const id = randomBytes(18).toString('base64url');
  const expiresAt = now + TTL_MS;
  return { value: `${id}.${expiresAt}.${sign(apiKey, `session:${id}.${expiresAt}`)}`, hash: sessionHash(id), expiresAt };
}

/**
 * The stored hash of a session this key signed and that has not expired (undefined otherwise);
 * whether it is still signed in is the AdminGuard's to say.
 */
export function signedSession(apiKey: string, value: string | undefined, now = Date.now()): string | undefined {
  if (!value || value.length > 200) return undefined;
  const [id, expires, mac, extra] = value.split('.');
  if (extra !== undefined || !id || !expires || !mac || !/^[A-Za-z0-9_-]{24}$/.test(id) || !/^\d{10,16}$/.test(expires) || Number(expires) < now) return undefined;
  return same(mac, sign(apiKey, `session:${id}.${expires}`)) ? sessionHash(id) : undefined;
}

const sessionHash = (id: string) => createHash('sha256').update(id).digest('base64url');

/** The CSRF token of a principal (a session cookie value, or an Access email): forms carry it back. */
export const csrfToken = (apiKey: string, principal: string) => sign(apiKey, `csrf:${principal}`);
export const validCsrf = (apiKey: string, principal: string, token: unknown) => typeof token === 'string' && same(token, csrfToken(apiKey, principal));

export function sessionCookie(value: string, secure: boolean, maxAgeS = TTL_MS / 1000): string {
  return `${COOKIE}=${value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}

export function readSession(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

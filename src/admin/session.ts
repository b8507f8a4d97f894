import { createHmac, timingSafeEqual } from 'node:crypto';

// The console's session: a cookie `<expiry>.<HMAC>` signed with a key derived from the API key, so
// rotating the key ends every session. CSRF tokens are derived from the same key and the session.

const COOKIE = 'hitl_admin';
const TTL_MS = 8 * 3_600_000;

const keyOf = (apiKey: string) => createHmac('sha256', apiKey).update('hitl-admin-session-v1').digest();
const sign = (apiKey: string, text: string) => createHmac('sha256', keyOf(apiKey)).update(text).digest('base64url');

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A new session cookie value, valid for 8 hours. */
export function newSession(apiKey: string, now = Date.now()): string {
  const expires = String(now + TTL_MS);
  return `${expires}.${sign(apiKey, `session:${expires}`)}`;
}

/** True when `value` is a session this key signed and it has not expired. */
export function validSession(apiKey: string, value: string | undefined, now = Date.now()): boolean {
  if (!value || value.length > 200) return false;
  const [expires, mac] = value.split('.');
  if (!expires || !mac || !/^\d{10,16}$/.test(expires) || Number(expires) < now) return false;
  return same(mac, sign(apiKey, `session:${expires}`));
}

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

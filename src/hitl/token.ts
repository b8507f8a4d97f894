import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EXECUTION_ID_SOURCE } from '../runtime/execution-id';

// `<executionId>.<secret>`: routes to its execution's object without a lookup; the secret is 192
// random bits, base64url. Only the SHA-256 of the whole token is ever stored.
const TOKEN = new RegExp(`^(${EXECUTION_ID_SOURCE})\\.([A-Za-z0-9_-]{32})$`);

export function newToken(executionId: string): string {
  return `${executionId}.${randomBytes(24).toString('base64url')}`;
}

/** The execution a token belongs to, or undefined when it is not a token at all. */
export function tokenExecution(token: string): string | undefined {
  return TOKEN.exec(token)?.[1];
}

/** Synchronous on purpose: a decision is claimed before anything is awaited. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** `hashToken` through WebCrypto: the same hex digest, without node:crypto's per-call stream object. */
export async function digestToken(token: string): Promise<string> {
  return Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))).toString('hex');
}

/** Constant-time comparison of two hex hashes. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { LIMITS } from '../limits';

/** What a sign-in attempt came to: a new session, a wrong key, or a lockout (with its end). */
export type LoginOutcome =
  | { ok: true }
  | { ok: false; reason: 'wrong-key' }
  | { ok: false; reason: 'locked'; retryAfterS: number; scope: 'client' | 'everyone' };

const WINDOW_MS = LIMITS.loginWindowMs;

/**
 * The console's sign-in and sessions, one object for the deployment (the console is not a hot
 * path). It decides each sign-in attempt in one call, so concurrent guesses are counted one by
 * one and cannot race past the limit; during a lockout even the right key is refused until it
 * ends. Sessions are rows: signing out deletes the row, so the old cookie stops working at once.
 */
export class AdminGuard extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS session (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS failure (client TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS failure_client ON failure (client, at);
      CREATE TABLE IF NOT EXISTS lockout (client TEXT PRIMARY KEY, until INTEGER NOT NULL);
    `);
  }

  /**
   * One sign-in attempt from `client` (its IP), whose key was already compared (`keyOk`). A
   * session id (its SHA-256, `sessionHash`) is stored only for a right key outside any lockout.
   */
  login(client: string, keyOk: boolean, sessionHash: string, expiresAt: number, now = Date.now()): LoginOutcome {
    this.sql.exec('DELETE FROM failure WHERE at < ?', now - WINDOW_MS);
    this.sql.exec('DELETE FROM lockout WHERE until <= ?', now);
    for (const [who, scope] of [[client, 'client'], ['*', 'everyone']] as const) {
      const lock = this.sql.exec<{ until: number }>('SELECT until FROM lockout WHERE client = ?', who).toArray()[0];
      // Everyone's lockout closes sign-in to clients that guessed wrong in the window: a client
      // with a clean record still signs in (so strangers cannot lock the operator out), and a new
      // one has a single guess.
      if (lock && (scope === 'client' || this.failedRecently(client))) return { ok: false, reason: 'locked', retryAfterS: Math.max(1, Math.ceil((lock.until - now) / 1000)), scope };
    }
    if (keyOk) {
      this.sql.exec('DELETE FROM failure WHERE client = ?', client);
      this.sql.exec('DELETE FROM session WHERE expires_at <= ?', now);
      // A bounded table: the oldest sessions give way (each is 8 hours at most anyway).
      this.sql.exec('DELETE FROM session WHERE id IN (SELECT id FROM session ORDER BY expires_at DESC LIMIT -1 OFFSET ?)', LIMITS.adminSessions - 1);
      this.sql.exec('INSERT OR REPLACE INTO session (id, expires_at) VALUES (?, ?)', sessionHash, expiresAt);
      return { ok: true };
    }
    this.sql.exec('INSERT INTO failure (client, at) VALUES (?, ?), (?, ?)', client, now, '*', now);
    const count = (who: string) => this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM failure WHERE client = ?', who).one().n;
    if (count(client) >= LIMITS.loginFailuresPerClient) this.lock(client, now + LIMITS.loginLockoutMs);
    if (count('*') >= LIMITS.loginFailuresAll) this.lock('*', now + LIMITS.loginLockoutAllMs);
    return { ok: false, reason: 'wrong-key' };
  }

  private failedRecently(client: string): boolean {
    return this.sql.exec('SELECT 1 FROM failure WHERE client = ? LIMIT 1', client).toArray().length > 0
      || this.sql.exec('SELECT 1 FROM lockout WHERE client = ?', client).toArray().length > 0;
  }

  private lock(who: string, until: number): void {
    this.sql.exec('INSERT OR REPLACE INTO lockout (client, until) VALUES (?, ?)', who, until);
    if (who !== '*') this.sql.exec('DELETE FROM failure WHERE client = ?', who);
    else this.sql.exec("DELETE FROM failure WHERE client = '*'");
  }

  /** True while the session is signed in (not signed out, not expired). */
  active(sessionHash: string, now = Date.now()): boolean {
    return this.sql.exec('SELECT 1 FROM session WHERE id = ? AND expires_at > ?', sessionHash, now).toArray().length > 0;
  }

  /** Signs a session out: its cookie is refused from now on. */
  logout(sessionHash: string): void {
    this.sql.exec('DELETE FROM session WHERE id = ?', sessionHash);
  }
}

/** The deployment's one guard object. */
export const guardOf = (env: Env) => env.ADMIN_GUARD.get(env.ADMIN_GUARD.idFromName('admin'));

/**
 * Who a sign-in attempt counts against: its IP (Cloudflare's `CF-Connecting-IP`), with an IPv6
 * address taken by its /64, the block one subscriber usually holds (else each address would be a
 * new client).
 */
export function clientOf(ip: string | undefined): string {
  if (!ip) return 'unknown';
  if (!ip.includes(':')) return ip.slice(0, 64);
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

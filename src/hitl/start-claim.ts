import { LIMITS } from '../limits';

/**
 * How a start sent with an `Idempotency-Key` stands, as the execution's object remembers it (the
 * execution id is derived from the key, so every retry reaches the same object). The claim is a
 * table of its own: it does not make the object hold a run (`ExecutionStore.exists`).
 */
export type Claim =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; /** The answer as JSON text. */ body: string }
  | { kind: 'begun' }
  | { kind: 'busy'; retryAfterS: number }
  | { kind: 'mismatch' };

const SCHEMA = `CREATE TABLE IF NOT EXISTS start_claim (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  body_hash TEXT NOT NULL,
  status INTEGER,                  -- the answer's HTTP status once the start finished; NULL while it runs
  response TEXT,                   -- the answer, for a replay (a run that never suspended)
  at INTEGER NOT NULL,             -- when the start was claimed
  expires_at INTEGER NOT NULL      -- when the object forgets the key
)`;

export class StartClaims {
  constructor(private readonly sql: SqlStorage) {}

  private row() {
    if (this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'start_claim'").toArray().length === 0) return undefined;
    return this.sql.exec<{ body_hash: string; status: number | null; response: string | null; at: number; expires_at: number }>('SELECT * FROM start_claim WHERE id = 1').toArray()[0];
  }

  /**
   * Claims the start (synchronous, so two requests with one key cannot both claim it), or says
   * how it stands: finished (replay its answer), begun (the run suspended: the object answers for
   * it), under way in another request (busy), or claimed with another body (mismatch).
   */
  claim(bodyHash: string, begun: boolean, now: number): Claim {
    const row = this.row();
    if (row && row.expires_at > now) {
      if (row.body_hash !== bodyHash) return { kind: 'mismatch' };
      if (begun) return { kind: 'begun' };
      if (row.status !== null) return { kind: 'replay', status: row.status, body: row.response ?? 'null' };
      // A start whose Worker died mid-run never finishes: after a while, the key may run again.
      if (now - row.at < LIMITS.startClaimMs) return { kind: 'busy', retryAfterS: Math.max(1, Math.ceil((row.at + LIMITS.startClaimMs - now) / 1000)) };
    } else if (begun) return { kind: 'begun' };
    this.sql.exec(SCHEMA);
    this.sql.exec('INSERT OR REPLACE INTO start_claim (id, body_hash, status, response, at, expires_at) VALUES (1, ?, NULL, NULL, ?, ?)', bodyHash, now, now + LIMITS.idempotencyKeyMs);
    return { kind: 'claimed' };
  }

  /** The start finished without suspending: its answer is kept for replays until the key expires. */
  finish(status: number, body: unknown, now: number): number {
    this.sql.exec('UPDATE start_claim SET status = ?, response = ?, expires_at = ? WHERE id = 1', status, JSON.stringify(body), now + LIMITS.idempotencyKeyMs);
    return now + LIMITS.idempotencyKeyMs;
  }

  /** The start failed before anything was kept: a retry with the key runs it again at once. */
  release(): void {
    if (this.row()) this.sql.exec('DELETE FROM start_claim WHERE id = 1');
  }

  /** True when the object holds nothing but an expired claim (its storage can go). */
  expired(now: number): boolean {
    const row = this.row();
    return row !== undefined && row.expires_at <= now;
  }
}

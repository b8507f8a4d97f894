import { LIMITS } from '../limits';
import { newExecutionId } from '../runtime/execution-id';

/**
 * A start sent with an `Idempotency-Key`, as the object named after (ensemble, key) remembers it.
 * The execution itself gets a new random id, kept here: every retry with the key learns it, and a
 * key used again once it has expired starts a new execution, never one with a reused id.
 */
export type Claim =
  | { kind: 'claimed'; executionId: string }
  | { kind: 'replay'; executionId: string; status: number; /** The first answer, as JSON text. */ body: string; /** Its headers (an output block's). */ headers?: Record<string, string> }
  | { kind: 'busy'; executionId: string; retryAfterS: number }
  | { kind: 'mismatch'; executionId: string };

const SCHEMA = `CREATE TABLE IF NOT EXISTS start_claim (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  execution_id TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  status INTEGER,                  -- the first answer's HTTP status once the start finished; NULL while it runs
  response TEXT,                   -- the first answer, replayed to retries
  headers TEXT,                    -- ... and its own headers (an output block's), JSON
  lease_until INTEGER NOT NULL,    -- while the start runs: until when it holds the key
  expires_at INTEGER NOT NULL      -- when the object forgets the key
)`;

type Row = { execution_id: string; body_hash: string; status: number | null; response: string | null; headers?: string | null; lease_until: number; expires_at: number };

export class StartClaims {
  constructor(private readonly sql: SqlStorage) {}

  private row(): Row | undefined {
    if (this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'start_claim'").toArray().length === 0) return undefined;
    return this.sql.exec<Row>('SELECT * FROM start_claim WHERE id = 1').toArray()[0];
  }

  /**
   * Claims the start (synchronous: two requests with one key cannot both claim it), or says how
   * it stands: finished (replay its first answer), under way in another request (busy), or the
   * key was used for another input (mismatch).
   */
  claim(bodyHash: string, now: number): Claim {
    const row = this.row();
    if (row && row.expires_at > now) {
      const executionId = row.execution_id;
      if (row.body_hash !== bodyHash) return { kind: 'mismatch', executionId };
      if (row.status !== null) return { kind: 'replay', executionId, status: row.status, body: row.response ?? 'null', ...(row.headers ? { headers: JSON.parse(row.headers) as Record<string, string> } : {}) };
      // The lease is renewed after every step; one that ran out is a Worker that died mid-run.
      if (now < row.lease_until) return { kind: 'busy', executionId, retryAfterS: Math.max(1, Math.min(60, Math.ceil((row.lease_until - now) / 1000))) };
      this.sql.exec('UPDATE start_claim SET lease_until = ? WHERE id = 1', now + LIMITS.startLeaseMs);
      return { kind: 'claimed', executionId };
    }
    const executionId = newExecutionId();
    this.sql.exec(SCHEMA);
    // Objects made before answers kept their headers get the column.
    if (!this.sql.exec<{ name: string }>('PRAGMA table_info(start_claim)').toArray().some((c) => c.name === 'headers')) this.sql.exec('ALTER TABLE start_claim ADD COLUMN headers TEXT');
    this.sql.exec('INSERT OR REPLACE INTO start_claim (id, execution_id, body_hash, status, response, lease_until, expires_at) VALUES (1, ?, ?, NULL, NULL, ?, ?)',
      executionId, bodyHash, now + LIMITS.startLeaseMs, now + LIMITS.idempotencyKeyMs);
    return { kind: 'claimed', executionId };
  }

  /** The start is still running: it keeps the key a while longer. */
  renew(now: number): void {
    if (this.row()?.status === null) this.sql.exec('UPDATE start_claim SET lease_until = ? WHERE id = 1', now + LIMITS.startLeaseMs);
  }

  /** The start answered: that answer is replayed to retries until the key expires (returned). */
  finish(status: number, body: string, now: number, headers?: Record<string, string>): number {
    if (headers && !this.sql.exec<{ name: string }>('PRAGMA table_info(start_claim)').toArray().some((c) => c.name === 'headers')) this.sql.exec('ALTER TABLE start_claim ADD COLUMN headers TEXT');
    this.sql.exec('UPDATE start_claim SET status = ?, response = ?, expires_at = ? WHERE id = 1', status, body, now + LIMITS.idempotencyKeyMs);
    if (headers) this.sql.exec('UPDATE start_claim SET headers = ? WHERE id = 1', JSON.stringify(headers));
    return now + LIMITS.idempotencyKeyMs;
  }

  /** The start failed before anything was kept: a retry with the key runs it again at once. */
  release(): void {
    if (this.row()) this.sql.exec('DELETE FROM start_claim WHERE id = 1');
  }

  /** True when the object holds an expired claim (its storage can go). */
  expired(now: number): boolean {
    const row = this.row();
    return row !== undefined && row.expires_at <= now;
  }
}

import { z } from 'zod';
import { normalizeIdentity } from '../identity/normalize';
import { flushFlatRuns } from './flat-runs';

// The executions index in D1 (migrations/0002_executions.sql): written by each execution's
// Durable Object (and by the Worker for runs that never suspend), read for lists, the console and
// stats. The object is the source of truth; a row may lag and is repaired by the object's alarm.

export const statuses = ['running', 'suspended', 'completed', 'failed', 'cancelled'] as const;
export type ExecutionStatus = (typeof statuses)[number];

/** One execution as the index holds it. */
export interface IndexRow {
  id: string;
  ensemble: string;
  status: ExecutionStatus;
  createdAt: number;
  updatedAt: number;
  version: number;
  /** How the run was started (src/triggers): api, cron, webhook, queue, email, event. */
  startedBy?: string;
  pending?: { step: string; approvers: string[]; expiresAt: number; requestedAt: number; waitsFor?: WaitsFor };
  /** Runs that never suspended: what GET /executions/:id answers for them. */
  summary?: unknown;
}

export interface RequestLatencyRow {
  requestId: number;
  step: string;
  requestedAt: number;
  closedAt: number | null;
  outcome: string | null;
}

/**
 * Writes one execution's row (and who it waits on, and its approval requests) in one batch. A row
 * with a lower `version` than the stored one is ignored, so writes arriving out of order never
 * step back.
 */
export async function writeExecution(db: D1Database, row: IndexRow, requests: RequestLatencyRow[] = []): Promise<void> {
  await db.batch(executionStatements(db, row, requests));
}

/** The statements that write one execution's row (several executions can share one batch). */
export function executionStatements(db: D1Database, row: IndexRow, requests: RequestLatencyRow[] = []): D1PreparedStatement[] {
  return [
    db.prepare(`INSERT INTO executions (id, ensemble, status, created_at, updated_at, version, pending_step, pending_approvers, expires_at, requested_at, summary, started_by)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
      ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, version = excluded.version,
        pending_step = excluded.pending_step, pending_approvers = excluded.pending_approvers, expires_at = excluded.expires_at,
        requested_at = excluded.requested_at, summary = COALESCE(excluded.summary, executions.summary)
      WHERE excluded.version >= executions.version`).bind(
      row.id, row.ensemble, row.status, row.createdAt, row.updatedAt, row.version,
      row.pending?.step ?? null, pendingColumn(row.pending), row.pending?.expiresAt ?? null,
      row.pending?.requestedAt ?? null, row.summary === undefined ? null : JSON.stringify(row.summary), row.startedBy ?? 'api',
    ),
    db.prepare('DELETE FROM execution_approvers WHERE execution_id = ? AND ? >= (SELECT version FROM executions WHERE id = ?)').bind(row.id, row.version, row.id),
    ...[...new Set((row.pending?.approvers ?? []).map(normalizeIdentity))].map((a) =>
      db.prepare('INSERT OR IGNORE INTO execution_approvers (approver, execution_id) SELECT ?, ? WHERE ? >= (SELECT version FROM executions WHERE id = ?)').bind(a, row.id, row.version, row.id)),
    // Versioned like the rest: an older write landing late must not reopen a closed request.
    ...requests.map((r) => db.prepare(`INSERT INTO approval_requests (execution_id, request_id, step, requested_at, closed_at, outcome) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (execution_id, request_id) DO UPDATE SET closed_at = excluded.closed_at, outcome = excluded.outcome
      WHERE ? >= (SELECT version FROM executions WHERE id = ?)`).bind(row.id, r.requestId, r.step, r.requestedAt, r.closedAt, r.outcome, row.version, row.id)),
  ];
}

/** Removes an execution from the index (its retention ended). */
export async function deleteExecution(db: D1Database, id: string): Promise<void> {
  await db.batch([
    db.prepare('DELETE FROM executions WHERE id = ?').bind(id),
    db.prepare('DELETE FROM execution_approvers WHERE execution_id = ?').bind(id),
    db.prepare('DELETE FROM approval_requests WHERE execution_id = ?').bind(id),
  ]);
}

export const ListQuery = z.strictObject({
  status: z.enum(statuses).optional(),
  ensemble: z.string().min(1).max(200).optional(),
  trigger: z.enum(['api', 'cron', 'webhook', 'queue', 'email', 'event']).optional().describe('how the runs were started'),
  approver: z.string().min(1).max(320).optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('created at or after (ISO 8601)'),
  until: z.iso.datetime({ offset: true }).optional().describe('created before (ISO 8601)'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});
export type ListQuery = z.infer<typeof ListQuery>;

/** The cursor: where the last page ended, opaque to clients (base64url JSON). */
const Cursor = z.object({ c: z.number().int(), i: z.string().max(100) });
export const encodeCursor = (c: number, i: string) => Buffer.from(JSON.stringify({ c, i })).toString('base64url');
export function decodeCursor(value: string): { c: number; i: string } | undefined {
  try {
    const parsed = Cursor.safeParse(JSON.parse(Buffer.from(value, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export interface ListedExecution {
  executionId: string;
  ensemble: string;
  status: ExecutionStatus;
  /** How it was started: api, cron, webhook, queue, email, event. */
  trigger: string;
  createdAt: string;
  updatedAt: string;
  pending?: { step: string; approvers: string[]; expiresAt: string; since: string; waitsFor?: WaitsFor };
}

/** The event an open `agent: wait` step waits for, when the oldest open request is one. */
export interface WaitsFor {
  event: string;
  key: string;
}

/**
 * `pending_approvers` holds the approvers (a JSON list) or, when the oldest open request waits for
 * an event, `{ approvers, waitsFor }`: one column, no migration.
 */
const pendingColumn = (p: IndexRow['pending']) => (p === undefined ? null : JSON.stringify(p.waitsFor ? { approvers: p.approvers, waitsFor: p.waitsFor } : p.approvers));
function pendingOf(text: unknown): { approvers: string[]; waitsFor?: WaitsFor } {
  const v = JSON.parse(String(text ?? '[]')) as string[] | { approvers: string[]; waitsFor: WaitsFor };
  return Array.isArray(v) ? { approvers: v } : v;
}

type Row = Record<string, unknown>;

const iso = (ms: number) => new Date(ms).toISOString();

function listed(r: Row): ListedExecution {
  return {
    executionId: String(r.id),
    ensemble: String(r.ensemble),
    status: String(r.status) as ExecutionStatus,
    trigger: String(r.started_by ?? 'api'),
    createdAt: iso(Number(r.created_at)),
    updatedAt: iso(Number(r.updated_at)),
    ...(r.status === 'suspended' && r.pending_step !== null
      ? { pending: { step: String(r.pending_step), ...pendingOf(r.pending_approvers), expiresAt: iso(Number(r.expires_at)), since: iso(Number(r.requested_at ?? r.updated_at)) } }
      : {}),
  };
}

/**
 * Executions newest first, filtered, one page at a time. Keyset pagination on (created_at, id):
 * runs that start while a client pages are newer than its cursor, so pages never repeat or skip.
 */
export async function listExecutions(db: D1Database, q: ListQuery, cursor?: { c: number; i: string }): Promise<{ executions: ListedExecution[]; cursor: string | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.status) { where.push('e.status = ?'); params.push(q.status); }
  if (q.ensemble) { where.push('e.ensemble = ?'); params.push(q.ensemble); }
  if (q.trigger) { where.push('e.started_by = ?'); params.push(q.trigger); }
  if (q.since) { where.push('e.created_at >= ?'); params.push(Date.parse(q.since)); }
  if (q.until) { where.push('e.created_at < ?'); params.push(Date.parse(q.until)); }
  if (q.approver) { where.push('e.id IN (SELECT execution_id FROM execution_approvers WHERE approver = ?)'); params.push(normalizeIdentity(q.approver)); }
  if (cursor) { where.push('(e.created_at < ? OR (e.created_at = ? AND e.id < ?))'); params.push(cursor.c, cursor.c, cursor.i); }
  await flushFlatRuns(db);
  const sql = `SELECT e.id, e.ensemble, e.status, e.started_by, e.created_at, e.updated_at, e.pending_step, e.pending_approvers, e.expires_at, e.requested_at
    FROM executions e ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.created_at DESC, e.id DESC LIMIT ?`;
  const { results } = await db.prepare(sql).bind(...params, q.limit + 1).all<Row>();
  const page = results.slice(0, q.limit);
  const last = page.at(-1);
  return { executions: page.map(listed), cursor: results.length > q.limit && last ? encodeCursor(Number(last.created_at), String(last.id)) : null };
}

/** One execution from the index: the listing plus, for runs that never suspended, their summary. */
export async function getExecution(db: D1Database, id: string): Promise<(ListedExecution & { summary: unknown }) | undefined> {
  await flushFlatRuns(db);
  const r = await db.prepare('SELECT * FROM executions WHERE id = ?').bind(id).first<Row>();
  return r ? { ...listed(r), summary: r.summary === null ? null : JSON.parse(String(r.summary)) } : undefined;
}

/** Counts by status, what is pending, and how long decisions took over a window (closed requests). */
export async function indexStats(db: D1Database, windowMs: number, now = Date.now()) {
  const since = now - windowMs;
  await flushFlatRuns(db);
  const [byStatus, latency, byTrigger] = await db.batch<Row>([
    db.prepare('SELECT status, COUNT(*) AS n FROM executions GROUP BY status'),
    // Decided by people only: a timeout (also one that approves or rejects by policy) is no decision.
    db.prepare("SELECT closed_at - requested_at AS ms FROM approval_requests WHERE closed_at >= ? AND outcome IN ('approved', 'rejected') ORDER BY ms").bind(since),
    db.prepare('SELECT started_by, COUNT(*) AS n FROM executions GROUP BY started_by'),
  ]);
  const counts: Record<string, number> = Object.fromEntries(statuses.map((s) => [s, 0]));
  for (const r of byStatus!.results) counts[String(r.status)] = Number(r.n);
  const ms = latency!.results.map((r) => Number(r.ms));
  const pct = (p: number) => (ms.length ? ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]! : null);
  return {
    counts,
    byTrigger: Object.fromEntries(byTrigger!.results.map((r) => [String(r.started_by), Number(r.n)])),
    pending: counts.suspended ?? 0,
    decisions: { window: { since: iso(since), until: iso(now) }, count: ms.length, p50Ms: pct(50), p95Ms: pct(95) },
  };
}

/**
 * Deletes finished executions last updated before `before` (retention of runs that never
 * suspended), 500 at a time in set-based batches, until none is left or `budgetMs` is spent (the
 * next run of the cron goes on from there).
 */
export async function purgeFinished(db: D1Database, before: number, budgetMs = 20_000): Promise<number> {
  const started = Date.now();
  const old = "SELECT id FROM executions WHERE status IN ('completed', 'failed', 'cancelled') AND updated_at < ?1 LIMIT 500";
  let removed = 0;
  for (;;) {
    const [, , deleted] = await db.batch([
      db.prepare(`DELETE FROM approval_requests WHERE execution_id IN (${old})`).bind(before),
      db.prepare(`DELETE FROM execution_approvers WHERE execution_id IN (${old})`).bind(before),
      db.prepare(`DELETE FROM executions WHERE id IN (${old})`).bind(before),
    ]);
    const n = deleted?.meta.changes ?? 0;
    removed += n;
    if (n < 500 || Date.now() - started > budgetMs) return removed;
  }
}

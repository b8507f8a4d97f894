import { pathOf, RunState, type NodeRecord, type StateChanges, type StepRecord } from '../runtime/run-state';
import { redact } from '../secrets';
import { normalizeIdentity } from '../identity/normalize';
import type { LibraryFile } from '../library/library';
import type { ApprovalState } from './machine';
import { ApprovalRequest } from './request';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS run (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  state TEXT NOT NULL,             -- RunState JSON but its parts (below): status, output, waits
  state_version INTEGER NOT NULL DEFAULT 0,  -- +1 on every save of the state
  file TEXT NOT NULL, source TEXT NOT NULL, hash TEXT NOT NULL,   -- the definition it started on
  library TEXT,                    -- ... and the agents/ and prompts/ files it uses (JSON), if any
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  cleanup_at INTEGER,              -- set when the run ends: storage is deleted then
  resume_cursor INTEGER,           -- the step the run last started to continue from
  resume_count INTEGER NOT NULL DEFAULT 0,   -- ... and how many times in a row
  index_version INTEGER NOT NULL DEFAULT 0,  -- the version of this run's state for the D1 index
  indexed_version INTEGER NOT NULL DEFAULT 0, -- the version the index has
  index_retry_at INTEGER           -- when to try again after a failed index write
);
CREATE TABLE IF NOT EXISTS part (  -- the run state's parts, each rewritten only when it changed
  key TEXT PRIMARY KEY,            -- 'input', 'step' or 'node' and a path
  pos INTEGER NOT NULL,            -- its place in the state (steps keep their order)
  body TEXT NOT NULL               -- its JSON
);
CREATE TABLE IF NOT EXISTS request (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  step TEXT NOT NULL,
  spec TEXT NOT NULL,              -- ApprovalRequest JSON
  approval TEXT NOT NULL,          -- ApprovalState JSON (the state machine's state)
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  sealed TEXT,                     -- the open request's links, encrypted; NULL once closed
  next_reminder_at INTEGER, reminders_sent INTEGER NOT NULL DEFAULT 0,
  escalate_at INTEGER,
  register_at INTEGER,             -- a wait for an event: when to (re)register with its event box; NULL once it is
  grp INTEGER                      -- requests announced together (one batch message): the group's first request id
);
CREATE TABLE IF NOT EXISTS batch (   -- an approver's link to every request of a group that lists them
  hash TEXT PRIMARY KEY,           -- SHA-256 of the batch token: the token itself is never stored
  grp INTEGER NOT NULL, approver TEXT NOT NULL,
  sealed TEXT NOT NULL,            -- the token, encrypted, for re-sending it (reminders, escalation)
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS batch_approver ON batch (grp, approver);
CREATE TABLE IF NOT EXISTS token (
  hash TEXT PRIMARY KEY,           -- SHA-256 of the token: the token itself is never stored
  request_id INTEGER NOT NULL,
  approver TEXT,                   -- NULL for a shared token
  used_at INTEGER, used_by TEXT
);
CREATE TABLE IF NOT EXISTS decision (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id INTEGER NOT NULL,
  approver TEXT NOT NULL, verified INTEGER NOT NULL, approved INTEGER NOT NULL,
  reason TEXT, feedback TEXT, at INTEGER NOT NULL, ip TEXT, user_agent TEXT,
  via TEXT                         -- link | shared | slack | access
);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL, type TEXT NOT NULL, request_id INTEGER, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id INTEGER NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
  status TEXT NOT NULL,            -- pending | sent | failed | dropped
  last_error TEXT,
  recipients TEXT,                 -- JSON list of approvers to notify (escalation); NULL: by kind
  fallback_for TEXT                -- the channel whose failure this delivery stands in for
);
CREATE TABLE IF NOT EXISTS message (
  request_id INTEGER NOT NULL, channel TEXT NOT NULL,
  ref TEXT NOT NULL                -- where a channel posted (Slack: {channel, ts}), to update it later
);
CREATE TABLE IF NOT EXISTS interaction (
  key TEXT PRIMARY KEY,            -- a Slack interaction already handled (retries answer the same)
  at INTEGER NOT NULL, result TEXT NOT NULL
);
`;

/**
 * Columns added after the first release (SCHEMA has them too): objects created before get them on
 * their next wake-up. A column added later goes in both places.
 */
export const ADDED_COLUMNS: [table: string, column: string, type: string][] = [
  ['decision', 'via', 'TEXT'],
  // The step the run last started to continue from, and how many times in a row.
  ['run', 'resume_cursor', 'INTEGER'],
  ['run', 'resume_count', 'INTEGER NOT NULL DEFAULT 0'],
  // The channel whose failure this delivery stands in for (notificationConfig.fallback).
  ['outbox', 'fallback_for', 'TEXT'],
  // The executions index in D1: the version of this run's state, the version the index has, and
  // when to try again after a failed write.
  ['run', 'index_version', 'INTEGER NOT NULL DEFAULT 0'],
  ['run', 'indexed_version', 'INTEGER NOT NULL DEFAULT 0'],
  ['run', 'index_retry_at', 'INTEGER'],
  // The run state in parts (the part table): a save writes what changed.
  ['run', 'state_version', 'INTEGER NOT NULL DEFAULT 0'],
  // The library files (agents/, prompts/) the definition uses.
  ['run', 'library', 'TEXT'],
  // A wait for an event (agent: wait): when to register it with its event box.
  ['request', 'register_at', 'INTEGER'],
  // Requests announced together (grouped notifications, batch links).
  ['request', 'grp', 'INTEGER'],
];

export type AuditType =
  | 'suspended' | 'notified' | 'notify-failed' | 'decision' | 'decision-refused' | 'reminder' | 'escalation'
  | 'timeout' | 'resumed' | 'completed' | 'failed' | 'cancelled' | 'closed' | 'renotify' | 'notify-fallback' | 'delegated' | 'delegation-refused'
  | 'event' | 'event-released' | 'extended' | 'reassigned';

export interface RunRow {
  state: RunState;
  file: string;
  source: string;
  hash: string;
  library?: LibraryFile[];
  createdAt: number;
  updatedAt: number;
  cleanupAt: number | null;
}

export interface RequestRow {
  id: number;
  step: string;
  spec: ApprovalRequest;
  approval: ApprovalState;
  status: string;
  createdAt: number;
  expiresAt: number;
  sealed: string | null;
  nextReminderAt: number | null;
  remindersSent: number;
  escalateAt: number | null;
  /** The group it was announced with (its first request's id), or null when announced alone. */
  grp: number | null;
}

/** An approver's batch link over a group of requests. */
export interface BatchRow {
  hash: string;
  grp: number;
  approver: string;
  sealed: string;
}

export interface TokenRow {
  hash: string;
  requestId: number;
  approver: string | null;
  usedAt: number | null;
  usedBy: string | null;
}

export interface OutboxRow {
  id: number;
  requestId: number;
  channel: string;
  kind: string;
  attempts: number;
  nextAt: number;
  recipients: string[] | null;
  fallbackFor: string | null;
}

type Row = Record<string, SqlStorageValue>;

/**
 * Freezes a parsed value and everything in it: a shared read can then never be changed by one
 * reader. Without recursion, like `depthOf`, so no depth of stored data can overflow the stack.
 */
function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || Object.isFrozen(v)) continue;
    Object.freeze(v);
    for (const child of Object.values(v)) stack.push(child);
  }
  return value;
}

/**
 * A record's JSON, by the record: a save compares every record with what is stored, and
 * stringifying 1,000 of them after each of 1,000 steps is quadratic. A step or control node record
 * is replaced, never changed (the interpreter keeps a new one), and is frozen once stored so that
 * a change in place would throw rather than be missed.
 */
const recordTexts = new WeakMap<object, string>();
function recordText(record: StepRecord | NodeRecord): string {
  let text = recordTexts.get(record);
  if (text === undefined) {
    text = JSON.stringify(record);
    recordTexts.set(Object.freeze(record), text);
  }
  return text;
}

/** Typed access to one execution's SQLite tables. Every call is synchronous. */
export class ExecutionStore {
  /** Once the run exists it exists until `forget` (retention deleted everything). */
  private known = false;
  /** The last run state read, by its version: parsed (and validated) once, not on every read. */
  private parsed?: { version: number; state: RunState };
  /** The parts as stored, by key, at `version`: a save compares with them and writes what differs. */
  private parts?: { version: number; bodies: Map<string, { pos: number; body: string }>; nodeCount: number };
  /**
   * Request specs by id, with the text they were parsed from: a spec is written once and read on
   * every delivery and lookup. Frozen, since every read shares it; a run's requests are few.
   */
  private readonly specs = new Map<number, { text: string; spec: ApprovalRequest }>();

  constructor(private readonly sql: SqlStorage, private readonly secrets: () => readonly string[] = () => []) {}

  /** True once `begin` has created the tables: reads of an unknown execution must not create them. */
  exists(): boolean {
    if (this.known) return true;
    this.known = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run'").toArray().length > 0
      && this.sql.exec('SELECT 1 FROM run').toArray().length > 0;
    return this.known;
  }

  /** Everything was deleted (retention): nothing is known any more. */
  forget(): void {
    this.known = false;
    this.parsed = undefined;
    this.parts = undefined;
    this.specs.clear();
  }

  /** A new object's tables, complete: one statement batch, no checks (this is on every suspension). */
  create(): void {
    this.sql.exec(SCHEMA);
  }

  /** An object created by an earlier release: the tables and columns added since. */
  upgrade(): void {
    this.sql.exec(SCHEMA);
    const columns = new Map<string, Set<string>>();
    for (const [table, column, type] of ADDED_COLUMNS) {
      let has = columns.get(table);
      if (!has) columns.set(table, (has = new Set(this.sql.exec<Row>(`PRAGMA table_info(${table})`).toArray().map((r) => String(r.name)))));
      if (!has.has(column)) this.sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
  }

  private one(query: string, ...params: SqlStorageValue[]): Row | undefined {
    return this.sql.exec<Row>(query, ...params).toArray()[0];
  }

  run(): RunRow | undefined {
    const r = this.one('SELECT state, state_version, file, source, hash, library, created_at, updated_at, cleanup_at FROM run WHERE id = 1');
    if (!r) return undefined;
    const version = Number(r.state_version);
    if (this.parsed?.version !== version) this.parsed = { version, state: RunState.parse(this.assemble(String(r.state))) };
    return {
      // Shared between reads of the same version: callers derive new states, never change this one.
      state: this.parsed.state,
      file: String(r.file), source: String(r.source), hash: String(r.hash),
      ...(r.library ? { library: JSON.parse(String(r.library)) as LibraryFile[] } : {}),
      createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
      cleanupAt: r.cleanup_at === null ? null : Number(r.cleanup_at),
    };
  }

  insertRun(state: RunState, def: { file: string; source: string; hash: string; library?: LibraryFile[] }, now: number): void {
    this.sql.exec('INSERT INTO run (id, state, file, source, hash, library, created_at, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)',
      '{}', def.file, def.source, def.hash, def.library?.length ? JSON.stringify(def.library) : null, now, now);
    this.parts = { version: 0, bodies: new Map(), nodeCount: 0 };
    const { head, version } = this.writeParts(state);
    this.sql.exec('UPDATE run SET state = ?, state_version = ? WHERE id = 1', head, version);
  }

  /**
   * Saves the run state; every save is a change the executions index must learn. Only the parts
   * that changed are written (a foreach of 1,000 items keeps 1,000 records; a step writes one).
   */
  saveState(state: RunState, now: number, changes?: StateChanges): void {
    const { head, version } = this.writeParts(state, changes);
    this.sql.exec('UPDATE run SET state = ?, state_version = ?, updated_at = ?, index_version = index_version + 1 WHERE id = 1', head, version, now);
  }

  /**
   * The state as rows: its input, each step record and each control node record in a part of its
   * own, the rest (status, output, waits) in the run row (`head`, for the caller to write with
   * `version`). Compared with the parts as last written (read again if anything else wrote since:
   * another instance, a rolled back transaction). With `changes` (a checkpoint of a walk from a
   * state saved before), only the records it names are compared: a walk of 10,000 steps does
   * not compare every record after each one.
   */
  private writeParts(state: RunState, changes?: StateChanges): { head: string; version: number } {
    const version = Number(this.one('SELECT state_version FROM run WHERE id = 1')?.state_version ?? 0);
    const cached = this.parts?.version === version ? this.parts : undefined;
    // Until this save is complete there is no cache: a throw part-way leaves storage ahead of it.
    this.parts = undefined;
    const { input: _input, steps: _steps, nodes: _nodes, ...rest } = state;
    const done = (bodies: Map<string, { pos: number; body: string }>, nodeCount: number) => {
      this.parts = { version: version + 1, bodies, nodeCount };
      return { head: JSON.stringify(rest), version: version + 1 };
    };
    if (changes && cached) {
      const { bodies } = cached;
      let { nodeCount } = cached;
      const write = (key: string, pos: number, body: string) => {
        const was = bodies.get(key);
        if (was?.body === body && was.pos === pos) return;
        this.sql.exec('INSERT OR REPLACE INTO part (key, pos, body) VALUES (?, ?, ?)', key, pos, body);
        bodies.set(key, { pos, body });
      };
      for (let i = changes.stepsFrom; i < state.steps.length; i++) write(`step\n${pathOf(state.steps[i]!)}`, i, recordText(state.steps[i]!));
      for (const path of changes.nodes) {
        if (!state.nodes || !Object.hasOwn(state.nodes, path)) continue;
        const key = `node\n${path}`;
        write(key, bodies.get(key)?.pos ?? nodeCount++, recordText(state.nodes[path]!));
      }
      return done(bodies, nodeCount);
    }
    const stored = cached?.bodies ?? this.storedParts();
    const next = new Map<string, { pos: number; body: string }>();
    const put = (key: string, pos: number, body: string) => {
      // Two records at one path never happen; if they did, the second is kept beside the first.
      while (next.has(key)) key += '\n#';
      next.set(key, { pos, body });
    };
    put('input', 0, JSON.stringify(state.input ?? null));
    state.steps.forEach((record, i) => put(`step\n${pathOf(record)}`, i, recordText(record)));
    const nodes = Object.entries(state.nodes ?? {});
    nodes.forEach(([path, record], i) => put(`node\n${path}`, i, recordText(record)));
    for (const [key, part] of next) {
      const was = stored.get(key);
      if (was?.body !== part.body || was.pos !== part.pos) this.sql.exec('INSERT OR REPLACE INTO part (key, pos, body) VALUES (?, ?, ?)', key, part.pos, part.body);
    }
    for (const key of stored.keys()) if (!next.has(key)) this.sql.exec('DELETE FROM part WHERE key = ?', key);
    return done(next, nodes.length);
  }

  private storedParts(): Map<string, { pos: number; body: string }> {
    const bodies = new Map<string, { pos: number; body: string }>();
    for (const r of this.sql.exec<{ key: string; pos: number; body: string }>('SELECT key, pos, body FROM part')) bodies.set(r.key, { pos: Number(r.pos), body: r.body });
    return bodies;
  }

  /** The state from the run row and its parts (a state stored whole, by an earlier release, as it is). */
  private assemble(head: string): unknown {
    const state = JSON.parse(head) as Record<string, unknown>;
    if ('steps' in state) return state;
    const steps: [number, unknown][] = [];
    const nodes: [number, string, unknown][] = [];
    for (const r of this.sql.exec<{ key: string; pos: number; body: string }>('SELECT key, pos, body FROM part')) {
      const value = JSON.parse(r.body);
      if (r.key === 'input') state.input = value;
      else if (r.key.startsWith('step\n')) steps.push([Number(r.pos), value]);
      else if (r.key.startsWith('node\n')) nodes.push([Number(r.pos), r.key.slice('node\n'.length), value]);
    }
    state.steps = steps.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    state.nodes = Object.fromEntries(nodes.sort((a, b) => a[0] - b[0]).map(([, path, v]) => [path, v]));
    return state;
  }

  /** Marks a change the index must learn (the approval state changed). */
  bumpIndex(): void {
    this.sql.exec('UPDATE run SET index_version = index_version + 1 WHERE id = 1');
  }

  indexVersions(): { version: number; indexed: number } {
    const r = this.one('SELECT index_version, indexed_version FROM run WHERE id = 1');
    return { version: Number(r?.index_version ?? 0), indexed: Number(r?.indexed_version ?? 0) };
  }

  /**
   * The index has `version`. A retry armed for a newer version stays armed: writes of one run can
   * overlap (two decisions' follow-ups, the alarm), and an older one may land after a newer one failed.
   */
  markIndexed(version: number): void {
    this.sql.exec(`UPDATE run SET indexed_version = MAX(indexed_version, ?1),
      index_retry_at = CASE WHEN MAX(indexed_version, ?1) >= index_version THEN NULL ELSE index_retry_at END WHERE id = 1`, version);
  }

  setIndexRetry(at: number): void {
    this.sql.exec('UPDATE run SET index_retry_at = ? WHERE id = 1', at);
  }

  /** Every approval request of the run: when it opened and closed (decision latency). */
  requestTimes(): { requestId: number; step: string; requestedAt: number; closedAt: number | null; outcome: string | null }[] {
    return this.sql.exec<Row>('SELECT id, step, created_at, status, approval FROM request ORDER BY id').toArray().map((r) => {
      const approval = JSON.parse(String(r.approval)) as ApprovalState;
      const closed = r.status !== 'pending';
      // Closed at or after its deadline means the timeout decided (onTimeout: approve|reject too).
      const timedOut = closed && r.status !== 'cancelled' && (approval.decidedAt ?? 0) >= approval.expiresAt;
      return { requestId: Number(r.id), step: String(r.step), requestedAt: Number(r.created_at), closedAt: closed ? approval.decidedAt ?? null : null, outcome: closed ? (timedOut ? 'timeout' : String(r.status)) : null };
    });
  }

  /** Counts a start of the continuation at `cursor`: how many times in a row it started there. */
  noteResume(cursor: number): number {
    const r = this.one('SELECT resume_cursor, resume_count FROM run WHERE id = 1');
    const count = r && r.resume_cursor !== null && Number(r.resume_cursor) === cursor ? Number(r.resume_count) + 1 : 1;
    this.sql.exec('UPDATE run SET resume_cursor = ?, resume_count = ? WHERE id = 1', cursor, count);
    return count;
  }

  setCleanup(at: number): void {
    this.sql.exec('UPDATE run SET cleanup_at = ? WHERE id = 1', at);
  }

  private request(r: Row | undefined): RequestRow | undefined {
    if (!r) return undefined;
    const id = Number(r.id);
    const text = String(r.spec);
    let cached = this.specs.get(id);
    if (cached?.text !== text) this.specs.set(id, (cached = { text, spec: deepFreeze(ApprovalRequest.parse(JSON.parse(text))) }));
    return {
      id, step: String(r.step),
      spec: cached.spec,
      approval: JSON.parse(String(r.approval)) as ApprovalState,
      status: String(r.status), createdAt: Number(r.created_at), expiresAt: Number(r.expires_at),
      sealed: r.sealed === null ? null : String(r.sealed),
      nextReminderAt: r.next_reminder_at === null ? null : Number(r.next_reminder_at),
      remindersSent: Number(r.reminders_sent),
      escalateAt: r.escalate_at === null ? null : Number(r.escalate_at),
      grp: r.grp === null || r.grp === undefined ? null : Number(r.grp),
    };
  }

  requestById(id: number): RequestRow | undefined {
    return this.request(this.one('SELECT * FROM request WHERE id = ?', id));
  }

  /** Every request still waiting for people, oldest first (a run may wait on several at once). */
  openRequests(): RequestRow[] {
    return this.sql.exec<Row>("SELECT * FROM request WHERE status = 'pending' ORDER BY id ASC").toArray().map((r) => this.request(r)!);
  }

  /** The oldest request still waiting for people, if any (what `pending` shows). */
  openRequest(): RequestRow | undefined {
    return this.request(this.one("SELECT * FROM request WHERE status = 'pending' ORDER BY id ASC LIMIT 1"));
  }

  /** The steps whose latest request has closed (decided, timed out, cancelled), with its id: one small query. */
  closedSteps(): Map<string, number> {
    const closed = new Map<string, number>();
    for (const r of this.sql.exec<{ step: string; id: number; status: string }>('SELECT step, id, status FROM request ORDER BY id')) {
      if (r.status === 'pending') closed.delete(r.step);
      else closed.set(r.step, Number(r.id));
    }
    return closed;
  }

  /** The latest request of the step at `path` (open or closed). */
  requestAt(path: string): RequestRow | undefined {
    return this.request(this.one('SELECT * FROM request WHERE step = ? ORDER BY id DESC LIMIT 1', path));
  }

  /** The open request of the step at `path`, if it waits. */
  openRequestAt(path: string): RequestRow | undefined {
    return this.request(this.one("SELECT * FROM request WHERE status = 'pending' AND step = ? ORDER BY id DESC LIMIT 1", path));
  }

  /** The requests opened at `createdAt` (those a `begin` opened together). */
  requestsOpenedWith(createdAt: number): RequestRow[] {
    return this.sql.exec<Row>('SELECT * FROM request WHERE created_at = ? ORDER BY id ASC', createdAt).toArray().map((r) => this.request(r)!);
  }

  /** The request the run suspended with when it was begun (later steps open later ones). */
  firstRequest(): RequestRow | undefined {
    return this.request(this.one('SELECT * FROM request ORDER BY id ASC LIMIT 1'));
  }

  insertRequest(spec: ApprovalRequest, approval: ApprovalState, now: number, sealed: string | null): number {
    const r = this.one(`INSERT INTO request (step, spec, approval, status, created_at, expires_at, sealed, next_reminder_at, escalate_at, register_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      spec.step, JSON.stringify(spec), JSON.stringify(approval), approval.status, now, approval.expiresAt, sealed,
      spec.remindAfterMs && spec.reminders > 0 ? now + spec.remindAfterMs : null,
      spec.escalateAfterMs ? now + spec.escalateAfterMs : null,
      spec.event ? now : null);
    return Number(r!.id);
  }

  /**
   * Waits for events whose registration with their event box is not settled: open ones to
   * register, and ones that ended before it was (to unregister).
   */
  waitsToRegister(): RequestRow[] {
    return this.sql.exec<Row>('SELECT * FROM request WHERE register_at IS NOT NULL ORDER BY id').toArray().map((r) => this.request(r)!);
  }

  /** When to try registering a wait again; null once its event box knows it. */
  setRegisterAt(id: number, at: number | null): void {
    this.sql.exec('UPDATE request SET register_at = ? WHERE id = ?', at, id);
  }

  /** Saves the machine's state; a closed request loses its sealed links and pending follow-ups. */
  saveApproval(id: number, approval: ApprovalState): void {
    const open = approval.status === 'pending';
    this.sql.exec(`UPDATE request SET approval = ?, status = ?, expires_at = ?${open ? '' : ', sealed = NULL, next_reminder_at = NULL, escalate_at = NULL'} WHERE id = ?`,
      JSON.stringify(approval), approval.status, approval.expiresAt, id);
    this.bumpIndex();
  }

  setSealed(id: number, sealed: string): void {
    this.sql.exec('UPDATE request SET sealed = ? WHERE id = ?', sealed, id);
  }

  setReminder(id: number, sent: number, nextAt: number | null): void {
    this.sql.exec('UPDATE request SET reminders_sent = ?, next_reminder_at = ? WHERE id = ?', sent, nextAt, id);
  }

  clearEscalation(id: number): void {
    this.sql.exec('UPDATE request SET escalate_at = NULL WHERE id = ?', id);
  }

  /** Announces these requests together, as the group `grp` (the first one's id). */
  setGroup(ids: number[], grp: number): void {
    for (const id of ids) this.sql.exec('UPDATE request SET grp = ? WHERE id = ?', grp, id);
  }

  /** The requests of a group, oldest first. */
  requestsInGroup(grp: number): RequestRow[] {
    return this.sql.exec<Row>('SELECT * FROM request WHERE grp = ? ORDER BY id', grp).toArray().map((r) => this.request(r)!);
  }

  /** Stores an approver's batch link for a group, unless one exists; the one stored either way. */
  insertBatch(hash: string, grp: number, approver: string, sealed: string, now: number): BatchRow {
    this.sql.exec('INSERT OR IGNORE INTO batch (hash, grp, approver, sealed, created_at) VALUES (?, ?, ?, ?, ?)', hash, grp, approver, sealed, now);
    return this.batchOf(grp, approver)!;
  }

  batchOf(grp: number, approver: string): BatchRow | undefined {
    return this.batchRow(this.one('SELECT * FROM batch WHERE grp = ? AND approver = ?', grp, approver));
  }

  batchByHash(hash: string): BatchRow | undefined {
    return this.batchRow(this.one('SELECT * FROM batch WHERE hash = ?', hash));
  }

  private batchRow(r: Row | undefined): BatchRow | undefined {
    return r && { hash: String(r.hash), grp: Number(r.grp), approver: String(r.approver), sealed: String(r.sealed) };
  }

  /** An approver's personal token for a request (the one a batch decision spends too). */
  personalToken(requestId: number, approver: string): TokenRow | undefined {
    // However the approver is spelt in this request's list (`Ap@…` here, `ap@…` in another).
    const key = normalizeIdentity(approver);
    const rows = this.sql.exec<Row>('SELECT hash, approver FROM token WHERE request_id = ? AND approver IS NOT NULL ORDER BY rowid DESC', requestId).toArray();
    const r = rows.find((row) => normalizeIdentity(String(row.approver)) === key);
    return r ? this.token(String(r.hash)) : undefined;
  }

  /** Whether a notification of this kind for this request (or group) waits in the outbox on this channel. */
  outboxWaiting(requestId: number, channel: string, kind: string, recipients?: string[]): boolean {
    return this.one(`SELECT 1 AS x FROM outbox WHERE request_id = ? AND channel = ? AND kind = ? AND status IN ('pending', 'sending') AND ${recipients ? 'recipients = ?' : 'recipients IS NULL'}`,
      requestId, channel, kind, ...(recipients ? [JSON.stringify(recipients)] : [])) !== undefined;
  }

  /** A new deadline (extension by an operator). */
  setExpiry(id: number, expiresAt: number): void {
    this.sql.exec('UPDATE request SET expires_at = ? WHERE id = ?', expiresAt, id);
  }

  insertToken(hash: string, requestId: number, approver: string | null): void {
    this.sql.exec('INSERT INTO token (hash, request_id, approver) VALUES (?, ?, ?)', hash, requestId, approver);
  }

  token(hash: string): TokenRow | undefined {
    const r = this.one('SELECT * FROM token WHERE hash = ?', hash);
    if (!r) return undefined;
    return {
      hash: String(r.hash), requestId: Number(r.request_id), approver: r.approver === null ? null : String(r.approver),
      usedAt: r.used_at === null ? null : Number(r.used_at), usedBy: r.used_by === null ? null : String(r.used_by),
    };
  }

  markTokenUsed(hash: string, at: number, by: string): void {
    this.sql.exec('UPDATE token SET used_at = ?, used_by = ? WHERE hash = ?', at, by, hash);
  }

  insertDecision(d: { requestId: number; approver: string; verified: boolean; via: string; approved: boolean; reason?: string; feedback?: string; at: number; ip?: string; userAgent?: string }): void {
    this.sql.exec('INSERT INTO decision (request_id, approver, verified, via, approved, reason, feedback, at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      d.requestId, d.approver, d.verified ? 1 : 0, d.via, d.approved ? 1 : 0, d.reason ?? null, d.feedback ?? null, d.at, d.ip ?? null, d.userAgent ?? null);
  }

  /** How many refused attempts through `via` a request has logged (the log of refusals is capped). */
  refusalCount(requestId: number, via: string): number {
    return Number(this.one("SELECT COUNT(*) AS n FROM audit WHERE type IN ('decision-refused', 'delegation-refused') AND request_id = ? AND json_extract(detail, '$.via') = ?", requestId, via)?.n ?? 0);
  }

  insertMessage(requestId: number, channel: string, ref: unknown): void {
    this.sql.exec('INSERT INTO message (request_id, channel, ref) VALUES (?, ?, ?)', requestId, channel, JSON.stringify(ref));
  }

  messages(requestId: number, channel: string): unknown[] {
    return this.sql.exec<Row>('SELECT ref FROM message WHERE request_id = ? AND channel = ?', requestId, channel).toArray().map((r) => JSON.parse(String(r.ref)));
  }

  /** True when an update of the request's posted messages is already waiting in the outbox. */
  updatePending(requestId: number): boolean {
    return this.one("SELECT 1 AS x FROM outbox WHERE request_id = ? AND kind = 'update' AND status IN ('pending', 'sending')", requestId) !== undefined;
  }

  interaction(key: string): unknown {
    const r = this.one('SELECT result FROM interaction WHERE key = ?', key);
    return r ? JSON.parse(String(r.result)) : undefined;
  }

  /** Remembers a handled Slack interaction; Slack retries within minutes, so an hour is kept. */
  saveInteraction(key: string, at: number, result: unknown): void {
    this.sql.exec('DELETE FROM interaction WHERE at < ?', at - 3_600_000);
    this.sql.exec('INSERT OR IGNORE INTO interaction (key, at, result) VALUES (?, ?, ?)', key, at, JSON.stringify(result));
  }

  audit(type: AuditType, detail: Record<string, unknown>, at: number, requestId?: number): void {
    this.sql.exec('INSERT INTO audit (at, type, request_id, detail) VALUES (?, ?, ?, ?)', at, type, requestId ?? null, JSON.stringify(redact(detail, this.secrets())));
  }

  auditLog(): { seq: number; at: string; type: string; requestId: number | null; detail: unknown }[] {
    return this.sql.exec<Row>('SELECT * FROM audit ORDER BY seq').toArray().map((r) => ({
      seq: Number(r.seq), at: new Date(Number(r.at)).toISOString(), type: String(r.type),
      requestId: r.request_id === null ? null : Number(r.request_id), detail: JSON.parse(String(r.detail)),
    }));
  }

  enqueue(requestId: number, channel: string, kind: string, at: number, recipients?: string[] | null, fallbackFor?: string): void {
    this.sql.exec("INSERT INTO outbox (request_id, channel, kind, next_at, status, recipients, fallback_for) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
      requestId, channel, kind, at, recipients ? JSON.stringify(recipients) : null, fallbackFor ?? null);
  }

  /**
   * Notifications due now: pending ones, and ones claimed by a delivery that never finished (the
   * isolate died mid-send) more than a minute ago.
   */
  dueOutbox(now: number): OutboxRow[] {
    return this.sql.exec<Row>("SELECT * FROM outbox WHERE (status = 'pending' AND next_at <= ?) OR (status = 'sending' AND next_at <= ?) ORDER BY id", now, now - 60_000).toArray().map((r) => ({
      id: Number(r.id), requestId: Number(r.request_id), channel: String(r.channel), kind: String(r.kind),
      attempts: Number(r.attempts), nextAt: Number(r.next_at),
      recipients: r.recipients === null ? null : (JSON.parse(String(r.recipients)) as string[]),
      fallbackFor: r.fallback_for === null || r.fallback_for === undefined ? null : String(r.fallback_for),
    }));
  }

  /**
   * Takes a due notification for one delivery, synchronously: two deliveries running side by side
   * (an alarm and `notify`, or two `notify` calls) never send the same row twice.
   */
  claimOutbox(id: number, now: number): boolean {
    return this.sql.exec("UPDATE outbox SET status = 'sending', next_at = ? WHERE id = ? AND (status = 'pending' OR (status = 'sending' AND next_at <= ?))", now, id, now - 60_000).rowsWritten > 0;
  }

  outboxResult(id: number, status: 'pending' | 'sent' | 'failed' | 'dropped', attempts: number, nextAt: number, error?: string): void {
    this.sql.exec('UPDATE outbox SET status = ?, attempts = ?, next_at = ?, last_error = ? WHERE id = ?', status, attempts, nextAt, error === undefined ? null : redact(error, this.secrets()), id);
  }

  /** The latest delivery of each channel for a request (updates of posted messages aside). */
  notificationHealth(requestId: number): { channel: string; kind: string; status: string; attempts: number; lastError: string | null; fallbackFor: string | null }[] {
    const rows = this.sql.exec<Row>("SELECT * FROM outbox WHERE request_id = ? AND kind != 'update' ORDER BY id", requestId).toArray();
    const latest = new Map<string, Row>();
    for (const r of rows) latest.set(String(r.channel), r);
    return [...latest.values()].map((r) => ({
      channel: String(r.channel), kind: String(r.kind), status: String(r.status), attempts: Number(r.attempts),
      lastError: r.last_error === null ? null : String(r.last_error),
      fallbackFor: r.fallback_for === null || r.fallback_for === undefined ? null : String(r.fallback_for),
    }));
  }

  /** The earliest time something is due: a notification, the open request's deadlines, cleanup, an index retry. */
  /**
   * When the alarm must next run: the first due notification (a claimed one once its claim goes
   * stale after 60 s, in case whoever claimed it died mid-send), follow-ups, an index write behind
   * its version, cleanup.
   */
  nextDue(): number | undefined {
    // Two queries: workerd allows at most 5 terms in one compound SELECT.
    const request = this.one(`SELECT MIN(t) AS t FROM (
      SELECT MIN(CASE WHEN status = 'pending' THEN next_at ELSE next_at + 60000 END) AS t FROM outbox WHERE status IN ('pending', 'sending')
      UNION ALL SELECT MIN(MIN(expires_at), COALESCE(MIN(next_reminder_at), MIN(expires_at)), COALESCE(MIN(escalate_at), MIN(expires_at))) FROM request WHERE status = 'pending'
      UNION ALL SELECT MIN(register_at) FROM request WHERE register_at IS NOT NULL)`);
    const run = this.one(`SELECT MIN(COALESCE(cleanup_at, 9e15), CASE WHEN indexed_version < index_version THEN COALESCE(index_retry_at, 9e15) ELSE 9e15 END) AS t FROM run WHERE id = 1`);
    const times = [request?.t, run?.t].filter((t) => t !== null && t !== undefined).map(Number).filter((t) => t < 9e15);
    return times.length ? Math.min(...times) : undefined;
  }
}

import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { LIMITS } from '../limits';
import { log } from '../log';
import { fail, ok, type Result } from '../hitl/result';
import type { ReceivedEvent } from '../hitl/machine';

// One object per (event name, key): the waits (`agent: wait` steps) that wait on it and the events
// no wait took yet. An event goes to every wait waiting when it arrives; with none, it is kept
// (for the lookback window) and goes to the first wait that starts within it. Each wait takes at
// most one event: the execution's object is the judge (its request closes once), and this object
// keeps, in one synchronous block each time, who was offered what.

const SCHEMA = `
CREATE TABLE IF NOT EXISTS box (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS event (
  id TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL,
  keep_until INTEGER NOT NULL,     -- kept for a later wait until then
  forget_at INTEGER NOT NULL,      -- its id is remembered (a redelivery starts nothing) until then
  body_hash TEXT NOT NULL,         -- a redelivery must carry the same data
  data TEXT,                       -- JSON; NULL once taken or expired
  source TEXT NOT NULL,            -- api | webhook:<path>
  status TEXT NOT NULL,            -- delivering | kept | taken | expired
  single INTEGER NOT NULL DEFAULT 0 -- a kept event offered again: to one wait at a time, not to all
);
CREATE TABLE IF NOT EXISTS waiter (
  execution_id TEXT NOT NULL, request_id INTEGER NOT NULL, step TEXT NOT NULL,
  started_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  lookback_ms INTEGER,             -- how old a kept event it accepts may be (NULL: any kept one)
  status TEXT NOT NULL,            -- waiting | satisfied | closed
  event_id TEXT,                   -- the event it took
  PRIMARY KEY (execution_id, request_id)
);
CREATE TABLE IF NOT EXISTS delivery (
  event_id TEXT NOT NULL, execution_id TEXT NOT NULL, request_id INTEGER NOT NULL,
  status TEXT NOT NULL,            -- pending | accepted | refused
  attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
  PRIMARY KEY (event_id, execution_id, request_id)
);
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, type TEXT NOT NULL, detail TEXT NOT NULL);
`;

/** A wait as its execution's object registers it. */
export interface Waiter {
  executionId: string;
  requestId: number;
  step: string;
  startedAt: number;
  expiresAt: number;
  lookbackMs?: number;
}

/** An event as a sender gives it. */
export interface IncomingEvent {
  id: string;
  /** The data as JSON text (measured and hashed by the Worker). */
  data: string;
  bodyHash: string;
  source: string;
}

/** What publishing answers: who took the event, or that it is kept. */
export interface Published {
  event: string;
  name: string;
  key: string;
  receivedAt: string;
  /** The waits it went to (their execution and step). */
  delivered: { executionId: string; step: string }[];
  /** No wait took it: kept until `keptUntil` for the first wait that starts by then. */
  kept: boolean;
  keptUntil: string | null;
  /** Waits it is still being offered to (their objects did not answer): the alarm goes on. */
  pending: number;
  /** The same id was sent before: nothing new happened. */
  duplicate: boolean;
}

type Row = Record<string, SqlStorageValue>;

const RETRY_MS = [1_000, 5_000, 30_000, 120_000, 600_000];
/**
 * Ids of events are remembered this long (as long as an event may be kept), so a redelivery of a
 * taken event is known: for senders whose signatures carry no time (GitHub, HMAC), the id is the
 * signed body's digest, and a replay of it must stay a duplicate.
 */
const REMEMBER_MS = LIMITS.eventLookbackMaxMs;
const LOG_ROWS = 500;
/** Waits offered an event at once. */
const FAN_OUT = 6;
const iso = (ms: number) => new Date(ms).toISOString();

export class EventBox extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private ready = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
  }

  private init(name: string, key: string): void {
    if (this.ready) return;
    this.sql.exec(SCHEMA);
    this.sql.exec('INSERT OR IGNORE INTO box (id, name, key) VALUES (1, ?, ?)', name, key);
    this.ready = true;
  }

  private one(query: string, ...params: SqlStorageValue[]): Row | undefined {
    return this.sql.exec<Row>(query, ...params).toArray()[0];
  }

  private note(type: string, detail: Record<string, unknown>, now: number): void {
    const seq = Number(this.one('INSERT INTO log (at, type, detail) VALUES (?, ?, ?) RETURNING seq', now, type, JSON.stringify(detail))!.seq);
    // Kept to the last LOG_ROWS entries as it grows (trimmed in steps, not on every line).
    if (seq % 100 === 0) this.sql.exec('DELETE FROM log WHERE seq <= ?', seq - LOG_ROWS);
  }

  /**
   * An event arrives (`POST /events/:name`, or a webhook that emits): offered to every wait
   * waiting now, else kept. A redelivery (the same id) answers what the first one did.
   */
  async publish(name: string, key: string, event: IncomingEvent, keepMs: number): Promise<Result<Published>> {
    this.init(name, key);
    const now = Date.now();
    const seen = this.one('SELECT body_hash FROM event WHERE id = ?', event.id);
    if (seen) {
      if (String(seen.body_hash) !== event.bodyHash) return fail('EVENT_ID_REUSED', 422, `the event id '${event.id}' was used for other data: a new event needs a new id`);
      return ok(this.published(event.id, true));
    }
    // Counted whether or not a wait waits: a wait may refuse them all (its lookback), and events
    // still being offered may end up kept.
    const held = Number(this.one("SELECT COUNT(*) AS n FROM event WHERE status IN ('kept', 'delivering')")!.n);
    if (held >= LIMITS.eventsKept) {
      return fail('EVENTS_FULL', 429, `${held} '${name}' events for this key wait for a wait to take them (at most ${LIMITS.eventsKept}): send it again once waits took some or they expired`);
    }
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("INSERT INTO event (id, received_at, keep_until, forget_at, body_hash, data, source, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'delivering')",
        event.id, now, now + keepMs, now + Math.max(keepMs, REMEMBER_MS), event.bodyHash, event.data, event.source);
      this.note('received', { event: event.id, source: event.source, bytes: event.data.length }, now);
      this.offerToWaiting(event.id, now, false);
    });
    await this.deliver(event.id);
    await this.schedule();
    return ok(this.published(event.id, false));
  }

  /**
   * Offers the event to the waits waiting now that accept it (their lookback) and were not offered
   * it yet: all of them for an arriving event, the one that started first (`single`) for a kept
   * event offered again, which goes to one wait like any kept event. How many offers were made.
   */
  private offerToWaiting(eventId: string, now: number, single: boolean): number {
    const rows = this.sql.exec(`INSERT OR IGNORE INTO delivery (event_id, execution_id, request_id, status, next_at)
      SELECT e.id, w.execution_id, w.request_id, 'pending', ? FROM waiter w JOIN event e ON e.id = ?
      WHERE w.status = 'waiting' AND w.expires_at > ?
        AND (w.lookback_ms IS NULL OR e.received_at >= w.started_at - w.lookback_ms)
        AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.event_id = e.id AND d.execution_id = w.execution_id AND d.request_id = w.request_id)
      ORDER BY w.started_at, w.request_id LIMIT ?`, now, eventId, now, single ? 1 : -1);
    rows.toArray();
    return rows.rowsWritten;
  }

  /**
   * Offers an event to the waits it is due to (at most FAN_OUT at once), until it is taken or
   * nobody is left: then it is kept. A wait that stopped waiting (timed out, closed by its flow,
   * took another event) says so and is not offered anything again.
   */
  private async deliver(eventId: string): Promise<void> {
    for (;;) {
      const now = Date.now();
      const due = this.sql.exec<Row>("SELECT execution_id, request_id FROM delivery WHERE event_id = ? AND status = 'pending' AND next_at <= ? LIMIT ?", eventId, now, FAN_OUT).toArray();
      if (due.length === 0) {
        // Synchronous from here: a wait registering meanwhile either was offered it, or finds it kept.
        const event = this.one('SELECT * FROM event WHERE id = ?', eventId);
        if (!event || event.status !== 'delivering') return;
        if (this.one("SELECT 1 FROM delivery WHERE event_id = ? AND status = 'pending'", eventId)) return; // the alarm goes on
        if (this.one("SELECT 1 FROM delivery WHERE event_id = ? AND status = 'accepted'", eventId)) {
          this.sql.exec("UPDATE event SET status = 'taken', data = NULL WHERE id = ?", eventId);
          return;
        }
        // Not taken: waits that registered while it was offered are offered it too.
        if (this.offerToWaiting(eventId, now, Number(event.single) === 1) > 0) continue;
        const keptUntil = Number(event.keep_until);
        if (keptUntil > now) {
          this.sql.exec("UPDATE event SET status = 'kept', single = 1 WHERE id = ?", eventId);
          this.note('kept', { event: eventId, until: iso(keptUntil) }, now);
        } else {
          this.sql.exec("UPDATE event SET status = 'expired', data = NULL WHERE id = ?", eventId);
          this.note('dropped', { event: eventId, reason: Number(event.keep_until) === Number(event.received_at) ? 'no wait took it, and events are not kept (EVENT_LOOKBACK is 0)' : 'no wait took it within its keep window' }, now);
        }
        return;
      }
      const event = this.one('SELECT data, received_at FROM event WHERE id = ?', eventId)!;
      const received: ReceivedEvent = { id: eventId, data: JSON.parse(String(event.data)), receivedAt: iso(Number(event.received_at)) };
      const box = this.box();
      await Promise.all(due.map(async (d) => {
        const executionId = String(d.execution_id);
        const requestId = Number(d.request_id);
        let answer: 'accepted' | 'closed';
        try {
          const stub = this.env.HITL_STATE.get(this.env.HITL_STATE.idFromName(executionId));
          answer = (await stub.receiveEvent(requestId, box.name, box.key, received)) as 'accepted' | 'closed';
        } catch (e) {
          const attempts = Number(this.one('SELECT attempts FROM delivery WHERE event_id = ? AND execution_id = ? AND request_id = ?', eventId, executionId, requestId)?.attempts ?? 0) + 1;
          this.sql.exec('UPDATE delivery SET attempts = ?, next_at = ? WHERE event_id = ? AND execution_id = ? AND request_id = ?',
            attempts, Date.now() + RETRY_MS[Math.min(attempts - 1, RETRY_MS.length - 1)]!, eventId, executionId, requestId);
          log('event-delivery-failed', { event: eventId, executionId, attempts, error: e instanceof Error ? e.message : String(e) }, 'warn');
          return;
        }
        this.settleDelivery(eventId, executionId, requestId, answer, Date.now());
      }));
    }
  }

  /** What a wait's object answered an offer: it took the event, or it no longer waits. */
  private settleDelivery(eventId: string, executionId: string, requestId: number, answer: 'accepted' | 'closed', now: number): void {
    // The same offer may have been made twice at once (the alarm and the publish): recorded once.
    const settled = this.sql.exec("UPDATE delivery SET status = ? WHERE event_id = ? AND execution_id = ? AND request_id = ? AND status = 'pending'", answer === 'accepted' ? 'accepted' : 'refused', eventId, executionId, requestId);
    settled.toArray();
    if (settled.rowsWritten === 0) return;
    const step = String(this.one('SELECT step FROM waiter WHERE execution_id = ? AND request_id = ?', executionId, requestId)?.step ?? '');
    if (answer === 'accepted') {
      this.sql.exec("UPDATE waiter SET status = 'satisfied', event_id = ? WHERE execution_id = ? AND request_id = ?", eventId, executionId, requestId);
      this.note('delivered', { event: eventId, executionId, step }, now);
    } else {
      // Timed out, closed by its flow, or it took another event: it is offered nothing more.
      this.sql.exec("UPDATE waiter SET status = 'closed' WHERE execution_id = ? AND request_id = ? AND status = 'waiting'", executionId, requestId);
    }
  }

  /**
   * A wait starts (its execution's object registers it once its request is stored): it takes the
   * oldest kept event it accepts, if any, else it waits. Registering again answers the same.
   */
  async register(name: string, key: string, w: Waiter): Promise<{ event?: ReceivedEvent }> {
    this.init(name, key);
    const now = Date.now();
    const taken = this.ctx.storage.transactionSync((): string | null | undefined => {
      const known = this.one('SELECT status, event_id FROM waiter WHERE execution_id = ? AND request_id = ?', w.executionId, w.requestId);
      if (known) return known.event_id === null ? undefined : String(known.event_id);
      const since = w.lookbackMs === undefined ? 0 : w.startedAt - w.lookbackMs;
      const kept = this.one("SELECT id FROM event WHERE status = 'kept' AND keep_until > ? AND received_at >= ? ORDER BY received_at, id LIMIT 1", now, since);
      if (kept) {
        const id = String(kept.id);
        this.sql.exec("UPDATE event SET status = 'taken' WHERE id = ?", id);
        this.sql.exec("INSERT INTO waiter (execution_id, request_id, step, started_at, expires_at, lookback_ms, status, event_id) VALUES (?, ?, ?, ?, ?, ?, 'satisfied', ?)",
          w.executionId, w.requestId, w.step, w.startedAt, w.expiresAt, w.lookbackMs ?? null, id);
        this.sql.exec("INSERT OR REPLACE INTO delivery (event_id, execution_id, request_id, status, next_at) VALUES (?, ?, ?, 'accepted', ?)", id, w.executionId, w.requestId, now);
        this.note('delivered', { event: id, executionId: w.executionId, step: w.step, kept: true }, now);
        return id;
      }
      this.sql.exec("INSERT INTO waiter (execution_id, request_id, step, started_at, expires_at, lookback_ms, status) VALUES (?, ?, ?, ?, ?, ?, 'waiting')",
        w.executionId, w.requestId, w.step, w.startedAt, w.expiresAt, w.lookbackMs ?? null);
      this.note('waiting', { executionId: w.executionId, step: w.step, until: iso(w.expiresAt) }, now);
      return undefined;
    });
    await this.schedule();
    if (taken === undefined || taken === null) return {};
    const row = this.one('SELECT data, received_at FROM event WHERE id = ?', taken);
    // A taken event keeps its data until its wait's object confirms (`confirm`): registering again
    // must be able to answer it.
    if (!row || row.data === null) return {};
    return { event: { id: taken, data: JSON.parse(String(row.data)), receivedAt: iso(Number(row.received_at)) } };
  }

  /** The wait's object took the kept event `register` handed it: its data is no longer needed here. */
  async confirm(eventId: string): Promise<void> {
    if (!this.ready && !this.one("SELECT 1 FROM sqlite_master WHERE name = 'event'")) return;
    this.sql.exec("UPDATE event SET data = NULL WHERE id = ? AND status = 'taken'", eventId);
  }

  /**
   * A wait ended (it timed out, was cancelled, its flow closed it) before its object confirmed
   * what `register` handed it, or before it learned whether it was handed anything: a kept event it
   * was handed goes back (offered to the next wait that accepts it, else kept again), and the wait
   * is offered nothing more. Repeating it changes nothing.
   */
  async unregister(name: string, key: string, executionId: string, requestId: number): Promise<void> {
    this.init(name, key);
    const now = Date.now();
    const back = this.ctx.storage.transactionSync((): string | undefined => {
      const w = this.one('SELECT status, event_id FROM waiter WHERE execution_id = ? AND request_id = ?', executionId, requestId);
      if (!w) return undefined;
      this.sql.exec("UPDATE waiter SET status = 'closed', event_id = NULL WHERE execution_id = ? AND request_id = ?", executionId, requestId);
      if (w.event_id === null) return undefined;
      const eventId = String(w.event_id);
      this.sql.exec('DELETE FROM delivery WHERE event_id = ? AND execution_id = ? AND request_id = ?', eventId, executionId, requestId);
      // Only an event it was handed from the kept ones and never confirmed (its data is still here).
      const update = this.sql.exec("UPDATE event SET status = 'delivering', single = 1 WHERE id = ? AND status = 'taken' AND data IS NOT NULL", eventId);
      update.toArray();
      if (update.rowsWritten === 0) return undefined;
      this.note('released', { event: eventId, executionId }, now);
      this.offerToWaiting(eventId, now, true);
      return eventId;
    });
    if (back) await this.deliver(back);
    await this.schedule();
  }

  /** What an operator reads (`GET /events/:name?key=`): kept events, waits, and the recent log. */
  async inspect(): Promise<{ name: string; key: string; keptCount: number; kept: unknown[]; waitingCount: number; waiting: unknown[]; log: unknown[] } | null> {
    if (!this.ready && !this.one("SELECT 1 FROM sqlite_master WHERE name = 'box'")) return null;
    const box = this.box();
    const now = Date.now();
    // Bounded: the oldest 100 of each, their sizes rather than their data (1,000 kept events of
    // 192 KiB would not fit one answer).
    return {
      ...box,
      keptCount: Number(this.one("SELECT COUNT(*) AS n FROM event WHERE status IN ('kept', 'delivering')")!.n),
      kept: this.sql.exec<Row>("SELECT id, received_at, keep_until, source, status, LENGTH(data) AS bytes FROM event WHERE status IN ('kept', 'delivering') ORDER BY received_at LIMIT 100").toArray()
        .map((r) => ({ id: r.id, receivedAt: iso(Number(r.received_at)), keptUntil: iso(Number(r.keep_until)), source: r.source, bytes: Number(r.bytes ?? 0), ...(r.status === 'delivering' ? { beingOffered: true } : {}) })),
      waitingCount: Number(this.one("SELECT COUNT(*) AS n FROM waiter WHERE status = 'waiting' AND expires_at > ?", now)!.n),
      waiting: this.sql.exec<Row>("SELECT execution_id, step, started_at, expires_at FROM waiter WHERE status = 'waiting' AND expires_at > ? ORDER BY started_at LIMIT 100", now).toArray()
        .map((r) => ({ executionId: r.execution_id, step: r.step, since: iso(Number(r.started_at)), until: iso(Number(r.expires_at)) })),
      log: this.sql.exec<Row>('SELECT at, type, detail FROM log ORDER BY seq DESC LIMIT 100').toArray()
        .map((r) => ({ at: iso(Number(r.at)), type: r.type, ...JSON.parse(String(r.detail)) })),
    };
  }

  /** Offers that failed, kept events that expired, waits that ended, ids to forget. */
  override async alarm(): Promise<void> {
    if (!this.one("SELECT 1 FROM sqlite_master WHERE name = 'box'")) return;
    this.ready = true;
    const now = Date.now();
    for (const row of this.sql.exec<Row>("SELECT DISTINCT event_id FROM delivery WHERE status = 'pending' AND next_at <= ?", now).toArray()) await this.deliver(String(row.event_id));
    this.ctx.storage.transactionSync(() => {
      for (const r of this.sql.exec<Row>("SELECT id FROM event WHERE status = 'kept' AND keep_until <= ?", now).toArray()) this.note('expired', { event: r.id }, now);
      this.sql.exec("UPDATE event SET status = 'expired', data = NULL WHERE status = 'kept' AND keep_until <= ?", now);
      this.sql.exec("DELETE FROM event WHERE forget_at <= ? AND status IN ('taken', 'expired')", now);
      this.sql.exec('DELETE FROM delivery WHERE event_id NOT IN (SELECT id FROM event)');
      this.sql.exec("DELETE FROM waiter WHERE expires_at <= ? OR (status != 'waiting' AND started_at <= ?)", now, now - REMEMBER_MS);
      this.sql.exec('DELETE FROM log WHERE seq <= (SELECT MAX(seq) FROM log) - ?', LOG_ROWS);
    });
    await this.schedule();
  }

  /** The alarm at the next thing due; with nothing left at all, the object forgets everything. */
  private async schedule(): Promise<void> {
    const t = this.one(`SELECT MIN(t) AS t FROM (
      SELECT MIN(next_at) AS t FROM delivery WHERE status = 'pending'
      UNION ALL SELECT MIN(CASE status WHEN 'kept' THEN keep_until ELSE forget_at END) FROM event
      UNION ALL SELECT MIN(CASE status WHEN 'waiting' THEN expires_at ELSE started_at + ${REMEMBER_MS} END) FROM waiter)`)?.t;
    if (t !== null && t !== undefined) {
      await this.ctx.storage.setAlarm(Math.max(Number(t), Date.now() + 1000));
      return;
    }
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.ready = false;
  }

  private box(): { name: string; key: string } {
    const r = this.one('SELECT name, key FROM box WHERE id = 1')!;
    return { name: String(r.name), key: String(r.key) };
  }

  private published(eventId: string, duplicate: boolean): Published {
    const box = this.box();
    const e = this.one('SELECT * FROM event WHERE id = ?', eventId)!;
    const delivered = this.sql.exec<Row>(`SELECT d.execution_id, w.step FROM delivery d LEFT JOIN waiter w ON w.execution_id = d.execution_id AND w.request_id = d.request_id
      WHERE d.event_id = ? AND d.status = 'accepted'`, eventId).toArray().map((r) => ({ executionId: String(r.execution_id), step: String(r.step ?? '') }));
    const kept = e.status === 'kept' || e.status === 'delivering';
    return {
      event: eventId, ...box, receivedAt: iso(Number(e.received_at)), delivered,
      kept: e.status === 'kept', keptUntil: kept ? iso(Number(e.keep_until)) : null,
      pending: Number(this.one("SELECT COUNT(*) AS n FROM delivery WHERE event_id = ? AND status = 'pending'", eventId)!.n),
      duplicate,
    };
  }
}

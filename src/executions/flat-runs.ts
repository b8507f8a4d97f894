import { log } from '../log';
import type { RunState } from '../runtime/run-state';
import { utf8Length } from '../limits';

/**
 * How long a flat run's index row waits for others to share its D1 batch, and how many may. Each
 * batch costs a D1 round trip, and its fixed part dominates: locally, 20 ms batches of about four
 * rows took half of a flat run's cost in the Worker's process; 100 ms batches fill to 20-50 rows
 * under load. A read of the index in this isolate writes the waiting rows first (`flushFlatRuns`).
 */
const BATCH_MS = 100;
const BATCH_ROWS = 50;
/**
 * A batch is cut at this many bytes of rows too: they travel as one bound string, and D1 takes
 * strings of up to 2,000,000 bytes. One row is at most ROW_BYTES (1,000,000), so a batch is too.
 */
const BATCH_BYTES = 1_000_000;

// The rows of this isolate waiting for their batch. Module state on purpose: it is what lets
// concurrent requests of one isolate share one D1 round trip; each request keeps its isolate
// alive (waitUntil) until the batch holding its row is written.
let pending: Batch | undefined;
// Every batch not yet written, the one taking rows and those on their way: what a read waits for.
const unwritten = new Set<Batch>();

interface Batch { db: D1Database; rows: Row[]; bytes: number; written: Promise<void>; send: () => void }

/** A row and its JSON, serialized once: its size decides the batch, and it is what is sent. */
interface Row { id: string; json: string }

/**
 * Indexes a run that ended without suspending, after its answer. Rows of concurrent runs are
 * written together (one D1 batch per 100 ms, 50 rows or about 1 MB, whichever comes first), so a
 * busy isolate makes one round trip where it made fifty. A failed batch is written again row by
 * row; a row that still fails is logged. The run itself is unaffected.
 */
export function indexFlatRun(db: D1Database, state: RunState): Promise<void> {
  const json = flatRowJson(state, Date.now());
  const row = { id: state.executionId, json };
  const size = utf8Length(json) + 1;
  if (pending && pending.db === db && pending.rows.length < BATCH_ROWS && pending.bytes + size <= BATCH_BYTES) {
    const batch = pending;
    batch.rows.push(row);
    batch.bytes += size;
    if (batch.rows.length === BATCH_ROWS) batch.send();
    return batch.written;
  }
  pending?.send(); // a full batch, or one for another database: it goes now
  const batch = startBatch(db, row, size);
  pending = batch;
  return batch.written;
}

/**
 * The longest a read waits for this isolate's rows: a D1 that fails slowly (a failed batch is
 * retried row by row) or never answers delays a read by this much, then it reads without them.
 */
const FLUSH_WAIT_MS = 1_000;

/**
 * Writes the rows this isolate holds for `db` now, and waits for them (up to FLUSH_WAIT_MS): a
 * list, a lookup or the stats in the isolate that ran a flat run see it. Other isolates see it
 * within BATCH_MS.
 */
export async function flushFlatRuns(db: D1Database): Promise<void> {
  const mine = [...unwritten].filter((b) => b.db === db);
  if (mine.length === 0) return;
  for (const b of mine) b.send();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([Promise.all(mine.map((b) => b.written)), new Promise((r) => { timer = setTimeout(r, FLUSH_WAIT_MS); })]);
  clearTimeout(timer);
}

function startBatch(db: D1Database, row: Row, size: number): Batch {
  let send!: () => void;
  const due = new Promise<void>((resolve) => { send = resolve; });
  const timer = setTimeout(send, BATCH_MS);
  const batch: Batch = { db, rows: [row], bytes: size, written: Promise.resolve(), send: () => {
    // From here on the batch takes no more rows.
    if (pending === batch) pending = undefined;
    send();
  } };
  unwritten.add(batch);
  batch.written = (async () => {
    await due;
    clearTimeout(timer);
    if (pending === batch) pending = undefined;
    try {
      await db.batch([insertRows(db, batch.rows)]);
    } catch {
      // These runs exist nowhere else: one bad row or a passing D1 error must not lose the others.
      for (const r of batch.rows) {
        try {
          await db.batch([insertRows(db, [r])]);
        } catch (e) {
          log('index-write-failed', { executionId: r.id, error: e instanceof Error ? e.message : String(e) }, 'warn');
        }
      }
    } finally {
      unwritten.delete(batch);
    }
  })();
  return batch;
}

/**
 * One statement for the whole batch: the rows travel as one JSON parameter and SQLite unpacks
 * them (`json_each`). Per row this is one bound value instead of a statement with eleven, and a
 * flat run's id is new, so a row already there (a batch written twice) is left as it is.
 */
function insertRows(db: D1Database, rows: Row[]): D1PreparedStatement {
  return db.prepare(`INSERT INTO executions (id, ensemble, status, created_at, updated_at, version, summary)
    SELECT json_extract(value, '$.id'), json_extract(value, '$.ensemble'), json_extract(value, '$.status'),
      json_extract(value, '$.createdAt'), json_extract(value, '$.updatedAt'), 1, json_extract(value, '$.summary')
    FROM json_each(?1) WHERE true
    ON CONFLICT (id) DO NOTHING`).bind(`[${rows.map((r) => r.json).join(',')}]`);
}

/** The most a summary of a run that never suspended takes in the index; beyond, steps keep only their status. */
const SUMMARY_BYTES = 512 * 1024;
/**
 * The most one row takes as it is sent: rows travel inside one JSON string (`insertRows`), where
 * every `"` and `\` of a summary is escaped again, and D1 takes strings of up to 2,000,000 bytes.
 * A row over this keeps only names, statuses and error codes.
 */
export const ROW_BYTES = 1_000_000;
/** How much of an error message the smallest summary keeps. */
const MESSAGE_CHARS = 1_000;
const cut = (m: string) => (m.length > MESSAGE_CHARS ? `${m.slice(0, MESSAGE_CHARS)}…` : m);

/**
 * The index row of a run that ended in the Worker without suspending (nothing else stores it), as
 * the JSON that is sent: at most ROW_BYTES, whatever the run produced.
 */
export function flatRowJson(state: RunState, now: number): string {
  const error = state.error ? { error: state.error } : {};
  let summary = JSON.stringify({ input: state.input, output: state.output ?? null, steps: state.steps, ...error });
  if (utf8Length(summary) > SUMMARY_BYTES) {
    summary = JSON.stringify({ input: null, output: null, steps: state.steps.map(({ input: _i, output: _o, ...rest }) => rest), ...error, truncated: true });
  }
  const row = (text: string) => JSON.stringify({ id: state.executionId, ensemble: state.ensemble, status: state.status, createdAt: Date.parse(state.startedAt), updatedAt: now, summary: text });
  let json = row(summary);
  if (utf8Length(json) > ROW_BYTES) {
    // What is left can only grow with the number of steps (each name is short): the run's outcome
    // and where it failed are kept, its data and long messages are not.
    json = row(JSON.stringify({
      input: null,
      output: null,
      steps: state.steps.map((r) => ({ name: r.name, status: r.status, startedAt: r.startedAt, durationMs: r.durationMs, ...(r.error ? { error: { code: r.error.code, message: cut(r.error.message) } } : {}) })),
      ...(state.error ? { error: { ...state.error, message: cut(state.error.message) } } : {}),
      truncated: true,
    }));
  }
  // Thousands of failed steps (a 256 KiB file can hold them): only the run's own outcome.
  if (utf8Length(json) > ROW_BYTES) json = row(JSON.stringify({ input: null, output: null, steps: [], ...(state.error ? { error: { ...state.error, message: cut(state.error.message) } } : {}), truncated: true }));
  return json;
}

import { log } from '../log';
import { pathOf, type RunState } from '../runtime/run-state';
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
// concurrent requests of one isolate share one D1 round trip.
//
// Workers tie I/O to the request that started it: a batch is written only by the request that
// opened it (its timer, in its context), and that request keeps the isolate alive (waitUntil)
// until the batch is written. Another request never sends it, resolves its promises or awaits
// them (that fails with "Cannot perform I/O on behalf of a different request"): it only adds
// rows, which are plain data, and a read writes copies of the waiting rows itself.
let pending: Batch | undefined;
// Every batch not yet written: the one taking rows and those on their way.
const unwritten = new Set<Batch>();

interface Batch { db: D1Database; rows: Row[]; bytes: number }

/** A row and its JSON, serialized once: its size decides the batch, and it is what is sent. */
interface Row { id: string; json: string }

/**
 * Indexes a run that ended without suspending, after its answer. Rows of concurrent runs are
 * written together (one D1 batch per 100 ms, of up to 50 rows or about 1 MB), so a busy isolate
 * makes one round trip where it made fifty. A failed batch is written again row by row; a row
 * that still fails is logged. The run itself is unaffected.
 *
 * The promise is what the calling request must wait for (waitUntil): the write of the batch it
 * opened, or nothing when its row joined a batch another request opened and will write.
 */
export function indexFlatRun(db: D1Database, state: RunState): Promise<void> {
  const json = flatRowJson(state, Date.now());
  const row = { id: state.executionId, json };
  const size = utf8Length(json) + 1;
  if (pending && pending.db === db && pending.rows.length < BATCH_ROWS && pending.bytes + size <= BATCH_BYTES) {
    pending.rows.push(row);
    pending.bytes += size;
    return Promise.resolve();
  }
  const batch: Batch = { db, rows: [row], bytes: size };
  pending = batch;
  unwritten.add(batch);
  return (async () => {
    await new Promise((r) => setTimeout(r, BATCH_MS));
    if (pending === batch) pending = undefined;
    try {
      await writeRows(db, batch.rows);
    } finally {
      unwritten.delete(batch);
    }
  })();
}

/** Writes rows in one statement; if that fails, row by row, logging a row that still fails. */
async function writeRows(db: D1Database, rows: Row[]): Promise<void> {
  try {
    await db.batch([insertRows(db, rows)]);
  } catch {
    // These runs exist nowhere else: one bad row or a passing D1 error must not lose the others.
    for (const r of rows) {
      try {
        await db.batch([insertRows(db, [r])]);
      } catch (e) {
        log('index-write-failed', { executionId: r.id, error: e instanceof Error ? e.message : String(e) }, 'warn');
      }
    }
  }
}

/**
 * The longest a read waits to write this isolate's waiting rows: a D1 that fails slowly (rows
 * are retried one by one) or never answers delays a read by this much, then it reads without them.
 */
const FLUSH_WAIT_MS = 1_000;

/**
 * Before a read of the index: writes, from the reading request, copies of the rows this isolate
 * still holds for `db` (one statement per batch, waited for up to FLUSH_WAIT_MS), so a list, a
 * lookup or the stats in the isolate that ran a flat run see it. Their batches still write them;
 * the second insert of a row does nothing. Other isolates see a run once its batch is written.
 */
export async function flushFlatRuns(db: D1Database): Promise<void> {
  const waiting = [...unwritten].filter((b) => b.db === db).map((b) => [...b.rows]);
  if (waiting.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    // Copies: a failure here loses nothing (their batch still writes them, and logs what it loses).
    db.batch(waiting.map((rows) => insertRows(db, rows))).catch(() => undefined),
    new Promise((r) => { timer = setTimeout(r, FLUSH_WAIT_MS); }),
  ]);
  clearTimeout(timer);
}

/**
 * One statement for the whole batch: the rows travel as one JSON parameter and SQLite unpacks
 * them (`json_each`). Per row this is one bound value instead of a statement with eleven, and a
 * flat run's id is new, so a row already there (a batch written twice) is left as it is.
 */
function insertRows(db: D1Database, rows: Row[]): D1PreparedStatement {
  return db.prepare(`INSERT INTO executions (id, ensemble, status, created_at, updated_at, version, summary, started_by)
    SELECT json_extract(value, '$.id'), json_extract(value, '$.ensemble'), json_extract(value, '$.status'),
      json_extract(value, '$.createdAt'), json_extract(value, '$.updatedAt'), 1, json_extract(value, '$.summary'), json_extract(value, '$.startedBy')
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
  const steps = state.steps.map((r) => ({ ...r, path: pathOf(r) }));
  const trigger = state.trigger ? { trigger: state.trigger } : {};
  let summary = JSON.stringify({ input: state.input, output: state.output ?? null, steps, ...error, ...trigger });
  if (utf8Length(summary) > SUMMARY_BYTES) {
    summary = JSON.stringify({ input: null, output: null, steps: steps.map(({ input: _i, output: _o, ...rest }) => rest), ...error, ...trigger, truncated: true });
  }
  const row = (text: string) => JSON.stringify({ id: state.executionId, ensemble: state.ensemble, status: state.status, startedBy: state.trigger?.type ?? 'api', createdAt: Date.parse(state.startedAt), updatedAt: now, summary: text });
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

import { log } from '../log';
import type { RunState } from '../runtime/run-state';
import { rowOfFlatRun } from './from-object';
import { executionStatements, type IndexRow } from './index-store';

/** How long a flat run's index row waits for others to share its D1 batch, and how many may. */
const BATCH_MS = 20;
const BATCH_ROWS = 50;
/** A batch is cut at about this many bytes of summaries too (each may be up to 512 KiB). */
const BATCH_BYTES = 1_000_000;

// Rows of this isolate waiting for their batch. Module state on purpose: it is what lets
// concurrent requests of one isolate share one D1 round trip; each request keeps its isolate
// alive (waitUntil) until the batch holding its row is written.
let pending: Batch | undefined;

interface Batch { db: D1Database; rows: IndexRow[]; bytes: number; written: Promise<void> }

const sizeOf = (row: IndexRow) => (row.summary === undefined ? 0 : JSON.stringify(row.summary).length) + 500;

/**
 * Indexes a run that ended without suspending, after its answer. Rows of concurrent runs are
 * written together (one D1 batch per 20 ms, 50 rows or about 1 MB), so a busy isolate makes one
 * round trip where it made fifty. A failed batch is written again row by row; a row that still
 * fails is logged. The run itself is unaffected.
 */
export function indexFlatRun(db: D1Database, state: RunState): Promise<void> {
  const row = rowOfFlatRun(state, Date.now());
  const size = sizeOf(row);
  if (pending && pending.db === db && pending.rows.length < BATCH_ROWS && pending.bytes + size <= BATCH_BYTES) {
    pending.rows.push(row);
    pending.bytes += size;
    return pending.written;
  }
  const batch: Batch = { db, rows: [row], bytes: size, written: Promise.resolve() };
  batch.written = (async () => {
    await new Promise((r) => setTimeout(r, BATCH_MS));
    if (pending === batch) pending = undefined;
    try {
      await db.batch(batch.rows.flatMap((r) => executionStatements(db, r)));
    } catch {
      // These runs exist nowhere else: one bad row or a passing D1 error must not lose the others.
      for (const r of batch.rows) {
        try {
          await db.batch(executionStatements(db, r));
        } catch (e) {
          log('index-write-failed', { executionId: r.id, error: e instanceof Error ? e.message : String(e) }, 'warn');
        }
      }
    }
  })();
  pending = batch;
  return batch.written;
}

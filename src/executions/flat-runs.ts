import { log } from '../log';
import type { RunState } from '../runtime/run-state';
import { rowOfFlatRun } from './from-object';
import { executionStatements, type IndexRow } from './index-store';

/** How long a flat run's index row waits for others to share its D1 batch, and how many may. */
const BATCH_MS = 20;
const BATCH_ROWS = 50;

// Rows of this isolate waiting for their batch. Module state on purpose: it is what lets
// concurrent requests of one isolate share one D1 round trip; each request keeps its isolate
// alive (waitUntil) until the batch holding its row is written.
let pending: { db: D1Database; rows: IndexRow[]; written: Promise<void> } | undefined;

/**
 * Indexes a run that ended without suspending, after its answer. Rows of concurrent runs are
 * written together (one D1 batch per 20 ms or 50 rows), so a busy isolate makes one round trip
 * where it made fifty. A failure is logged; the run itself is unaffected.
 */
export function indexFlatRun(db: D1Database, state: RunState): Promise<void> {
  const row = rowOfFlatRun(state, Date.now());
  if (pending && pending.db === db && pending.rows.length < BATCH_ROWS) {
    pending.rows.push(row);
    return pending.written;
  }
  const batch: { db: D1Database; rows: IndexRow[]; written: Promise<void> } = { db, rows: [row], written: Promise.resolve() };
  batch.written = (async () => {
    await new Promise((r) => setTimeout(r, BATCH_MS));
    if (pending === batch) pending = undefined;
    try {
      await db.batch(batch.rows.flatMap((r) => executionStatements(db, r)));
    } catch (e) {
      log('index-write-failed', { executions: batch.rows.map((r) => r.id), error: e instanceof Error ? e.message : String(e) }, 'warn');
    }
  })();
  pending = batch;
  return batch.written;
}

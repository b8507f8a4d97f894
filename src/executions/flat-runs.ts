import { log } from '../log';
import type { RunState } from '../runtime/run-state';
import { rowOfFlatRun } from './from-object';
import { writeExecution } from './index-store';

/** Indexes a run that ended without suspending; a failure is logged (the run itself is unaffected). */
export async function indexFlatRun(db: D1Database, state: RunState): Promise<void> {
  try {
    await writeExecution(db, rowOfFlatRun(state, Date.now()));
  } catch (e) {
    log('index-write-failed', { executionId: state.executionId, error: e instanceof Error ? e.message : String(e) }, 'warn');
  }
}

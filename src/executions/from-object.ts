import { hasDecided } from '../hitl/machine';
import type { RequestRow, RunRow } from '../hitl/store';
import type { RunState } from '../runtime/run-state';
import { utf8Length } from '../limits';
import type { IndexRow } from './index-store';

/** The index row of an execution its Durable Object holds: status, and who the open request waits on. */
export function rowOfObject(run: RunRow, open: RequestRow | undefined, version: number): IndexRow {
  const s = run.state;
  return {
    id: s.executionId,
    ensemble: s.ensemble,
    status: s.status,
    createdAt: Date.parse(s.startedAt) || run.createdAt,
    updatedAt: run.updatedAt,
    version,
    ...(open && s.status === 'suspended'
      ? {
        pending: {
          step: open.step,
          approvers: open.approval.approvers.filter((a) => !hasDecided(open.approval.approvals, a, true)),
          expiresAt: open.expiresAt,
          requestedAt: open.createdAt,
        },
      }
      : {}),
  };
}

/** The most a summary of a run that never suspended takes in the index; beyond, steps keep only their status. */
const SUMMARY_BYTES = 512 * 1024;

/** The index row of a run that ended in the Worker without suspending, its summary as stored. */
export interface FlatRow { id: string; ensemble: string; status: RunState['status']; createdAt: number; updatedAt: number; summary: string }

/** The index row of a run that ended in the Worker without suspending (nothing else stores it). */
export function flatRow(state: RunState, now: number): FlatRow {
  let summary = JSON.stringify({ input: state.input, output: state.output ?? null, steps: state.steps, ...(state.error ? { error: state.error } : {}) });
  if (utf8Length(summary) > SUMMARY_BYTES) {
    summary = JSON.stringify({ input: null, output: null, steps: state.steps.map(({ input: _i, output: _o, ...rest }) => rest), ...(state.error ? { error: state.error } : {}), truncated: true });
  }
  return { id: state.executionId, ensemble: state.ensemble, status: state.status, createdAt: Date.parse(state.startedAt), updatedAt: now, summary };
}

import { hasDecided } from '../hitl/machine';
import type { RequestRow, RunRow } from '../hitl/store';
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

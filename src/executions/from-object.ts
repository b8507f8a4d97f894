import { hasDecided } from '../hitl/machine';
import type { RequestRow, RunRow } from '../hitl/store';
import type { IndexRow } from './index-store';

/**
 * The index row of an execution its Durable Object holds: status, and who its open requests wait
 * on (every approver of every open request who has not decided; the oldest request's step, the
 * earliest deadline).
 */
export function rowOfObject(run: RunRow, requests: RequestRow[], version: number): IndexRow {
  const open = requests[0];
  const approvers = [...new Set(requests.flatMap((r) => r.approval.approvers.filter((a) => !hasDecided(r.approval.approvals, a, true))))];
  const s = run.state;
  return {
    id: s.executionId,
    ensemble: s.ensemble,
    status: s.status,
    createdAt: Date.parse(s.startedAt) || run.createdAt,
    updatedAt: run.updatedAt,
    version,
    startedBy: s.trigger?.type ?? 'api',
    ...(open && s.status === 'suspended'
      ? {
        pending: {
          step: open.step,
          approvers,
          expiresAt: Math.min(...requests.map((r) => r.expiresAt)),
          requestedAt: Math.min(...requests.map((r) => r.createdAt)),
          ...(open.spec.event ? { waitsFor: { event: open.spec.event.name, key: open.spec.event.key } } : {}),
        },
      }
      : {}),
  };
}

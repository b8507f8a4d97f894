import type { RequestRow, RunRow } from './store';

const iso = (ms: number) => new Date(ms).toISOString();

/** What a pending approval looks like in API answers (202 and GET /executions/:id). */
export function pendingView(request: RequestRow) {
  return {
    step: request.step,
    prompt: request.spec.prompt,
    approvers: request.approval.approvers,
    minApprovals: request.spec.minApprovals,
    approvals: request.approval.approvals,
    expiresAt: iso(request.expiresAt),
  };
}

export type PendingView = ReturnType<typeof pendingView>;

export function executionView(run: RunRow, open: RequestRow | undefined) {
  const s = run.state;
  return {
    executionId: s.executionId,
    ensemble: s.ensemble,
    status: s.status,
    input: s.input,
    steps: s.steps,
    output: s.output ?? null,
    ...(s.error ? { error: s.error } : {}),
    pending: open && s.status === 'suspended' ? pendingView(open) : null,
    createdAt: iso(run.createdAt),
    updatedAt: iso(run.updatedAt),
  };
}

/** GET /callback/:token: the request as its reviewer needs it; consumes nothing. */
export function tokenView(run: RunRow, request: RequestRow, token: { approver: string | null; usedAt: number | null; usedBy: string | null }) {
  return {
    executionId: run.state.executionId,
    ensemble: run.state.ensemble,
    step: request.step,
    status: request.approval.status,
    prompt: request.spec.prompt,
    data: request.spec.data,
    metadata: request.spec.metadata ?? {},
    approvers: request.approval.approvers,
    minApprovals: request.spec.minApprovals,
    approvals: request.approval.approvals,
    expiresAt: iso(request.expiresAt),
    /** The identity this link is bound to; null for a shared link (the approver states a name). */
    approver: token.approver,
    /** Who asked for this (separation of duties: they cannot decide), if the step named one. */
    requester: request.spec.requester ?? null,
    tokenUsed: token.usedAt === null ? null : { at: iso(token.usedAt), by: token.usedBy },
  };
}
export type TokenView = ReturnType<typeof tokenView>;

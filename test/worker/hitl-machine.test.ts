import { describe, expect, it } from 'vitest';
import { outputOf, transition, type ApprovalState } from '../../src/hitl/machine';

const base: ApprovalState = { status: 'pending', approvers: ['a', 'b', 'c'], minApprovals: 2, expiresAt: 10_000, onTimeout: 'continue', approvals: [] };
const decide = (s: ApprovalState, approver: string, approved: boolean, at = 1000) => transition(s, { type: 'decide', decider: { name: approver, verified: true, via: 'link' }, approved, at });

describe('the approval state machine', () => {
  it('approves at quorum of distinct approvers', () => {
    const one = decide(base, 'a', true);
    expect(one.ok && one.state.status).toBe('pending');
    const dup = one.ok ? decide(one.state, ' A ', true) : one;
    expect(!dup.ok && dup.refusal.code).toBe('DUPLICATE_APPROVER');
    const two = one.ok ? decide(one.state, 'b', true, 2000) : one;
    expect(two.ok && two.final).toBe(true);
    if (!two.ok) return;
    expect(outputOf(two.state)).toMatchObject({ status: 'approved', approved: true, rejected: false, timedOut: false });
    expect(two.state.decidedAt).toBe(2000);
  });

  it('rejects on any rejection and refuses later events with who and when', () => {
    const r = decide(base, 'b', false);
    expect(r.ok && r.state.status).toBe('rejected');
    if (!r.ok) return;
    const later = decide(r.state, 'c', true);
    expect(!later.ok && later.refusal).toMatchObject({ code: 'ALREADY_DECIDED', status: 409, details: { decidedBy: ['b'], status: 'rejected' } });
    const cancel = transition(r.state, { type: 'cancel', at: 5 });
    expect(!cancel.ok && cancel.refusal.code).toBe('ALREADY_DECIDED');
  });

  it('refuses decisions from expiresAt on, and expires only when due', () => {
    expect(!decide(base, 'a', true, 10_000).ok).toBe(true);
    const early = transition(base, { type: 'expire', at: 9_999 });
    expect(!early.ok && early.refusal.code).toBe('NOT_DUE');
    const due = transition(base, { type: 'expire', at: 10_000 });
    expect(due.ok && outputOf(due.state)).toEqual({ status: 'timeout', approved: false, rejected: false, timedOut: true, approvals: [] });
  });

  it.each([
    ['approve', { status: 'approved', approved: true, timedOut: true }],
    ['reject', { status: 'rejected', rejected: true, timedOut: true }],
  ] as const)('onTimeout %s decides by policy and says it timed out', (onTimeout, expected) => {
    const r = transition({ ...base, onTimeout }, { type: 'expire', at: 20_000 });
    expect(r.ok && outputOf(r.state)).toMatchObject(expected);
  });

  it('a cancelled request refuses with 410', () => {
    const c = transition(base, { type: 'cancel', at: 1 });
    if (!c.ok) throw new Error('cancel refused');
    const after = decide(c.state, 'a', true);
    expect(!after.ok && after.refusal).toMatchObject({ code: 'CANCELLED', status: 410 });
  });

  it('keeps the rejecting reason and feedback in the output', () => {
    const r = transition(base, { type: 'decide', decider: { name: 'a', verified: false, via: 'shared' }, approved: false, reason: 'no', feedback: 'fix', at: 1 });
    expect(r.ok && outputOf(r.state)).toMatchObject({ reason: 'no', feedback: 'fix', approvals: [{ approver: 'a', verified: false, reason: 'no', feedback: 'fix' }] });
  });
});

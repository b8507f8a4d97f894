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

describe('committees and delegation in the state machine', () => {
  const steps = (s: ApprovalState, ...moves: [string, boolean][]) => moves.reduce<ApprovalState>((st, [who, ok]) => {
    const r = decide(st, who, ok);
    if (!r.ok) throw new Error(r.refusal.message);
    return r.state;
  }, s);

  it('onReject impossible: rejected exactly when the undecided cannot bring approvals to minApprovals', () => {
    const committee: ApprovalState = { ...base, approvers: ['a', 'b', 'c', 'd', 'e'], minApprovals: 3, onReject: 'impossible' };
    expect(steps(committee, ['a', false]).status).toBe('pending');
    expect(steps(committee, ['a', false], ['b', false]).status).toBe('pending');
    expect(steps(committee, ['a', false], ['b', false], ['c', false]).status).toBe('rejected');
    expect(steps(committee, ['a', false], ['b', true], ['c', false], ['d', true], ['e', true]).status).toBe('approved');
  });

  it('delegation replaces the place, keeps who may decide consistent, and bounds the chain', () => {
    const verified = (name: string) => ({ name, verified: true, via: 'link' as const });
    const r = transition(base, { type: 'delegate', decider: verified('a'), to: 'x', at: 1 });
    expect(r.ok && r.state.approvers).toEqual(['x', 'b', 'c']);
    if (!r.ok) return;
    const byOld = decide(r.state, 'a', true);
    expect(!byOld.ok && byOld.refusal).toMatchObject({ code: 'NOT_AN_APPROVER', message: 'a handed this decision to x' });
    expect(decide(r.state, 'x', true).ok).toBe(true);
    const typed = transition(base, { type: 'delegate', decider: { name: 'a', verified: false, via: 'shared' }, to: 'x', at: 1 });
    expect(!typed.ok && typed.refusal.details).toEqual({ reason: 'unverified' });
    const self = transition(base, { type: 'delegate', decider: verified('a'), to: ' A ', at: 1 });
    expect(!self.ok && self.refusal.details).toEqual({ reason: 'to-self' });
    let state = base;
    let holder = 'a';
    for (let depth = 1; depth <= 3; depth++) {
      const next = transition(state, { type: 'delegate', decider: verified(holder), to: `d${depth}`, at: 1 });
      if (!next.ok) throw new Error(next.refusal.message);
      expect(next.delegation!.depth).toBe(depth);
      state = next.state;
      holder = `d${depth}`;
    }
    const fourth = transition(state, { type: 'delegate', decider: verified(holder), to: 'd4', at: 1 });
    expect(!fourth.ok && fourth.refusal.details).toEqual({ reason: 'chain' });
    const late = transition(base, { type: 'delegate', decider: verified('a'), to: 'x', at: base.expiresAt });
    expect(!late.ok && late.refusal.code).toBe('EXPIRED');
  });
});

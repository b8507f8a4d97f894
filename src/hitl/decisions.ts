import type { Env } from '../env';
import { pathOf, type RunState } from '../runtime/run-state';
import { completeWaitingStep } from '../runtime/interpreter';
import { jsonBytes, LIMITS } from '../limits';
import { retentionDays } from '../executions/retention';
import { log } from '../log';
import { hasDecided, outputOf, transition, type ApprovalState, type Decider, type ReceivedEvent, type RequesterNames } from './machine';
import type { DecisionBody, DecisionVia } from './request';
import { readResponse } from './form';
import { escalateRequest } from './links';
import { fail, ok, type Result } from './result';
import type { ExecutionStore, RequestRow } from './store';

// What a decision, a timeout, a reminder or the end of a run changes in an execution's storage:
// synchronous effects of the approval state machine (src/hitl/machine.ts) on the ExecutionStore.
// The object (hitl-state.ts) decides when they run; what follows an answer (the alarm,
// notifications, the index, continuing the run) is in lifecycle.ts. All of it is synchronous, but
// for an escalation in `followUp`, which seals the new links first and judges the request as it
// is after that.

export interface RequestMeta {
  ip?: string;
  userAgent?: string;
  /** The body came from a browser form: form answers are strings (and a checkbox is on or absent). */
  fromHtml?: boolean;
}

export interface DecisionView {
  executionId: string;
  step: string;
  status: ApprovalState['status'];
  approved: boolean;
  approvals: ApprovalState['approvals'];
  decision: { approver: string; approved: boolean; verified: boolean; via: DecisionVia; at: string };
}

/**
 * Applies one decision. Synchronous on purpose: the check and the claim (link spent, decision and
 * approval state saved, audit) cannot interleave with anything. `due` is when the alarm must run.
 */
export function recordDecision(store: ExecutionStore, state: RunState, request: RequestRow, decider: Decider, body: DecisionBody, meta: RequestMeta, now: number, requester?: RequesterNames, spends?: string): { result: Result<DecisionView>; due?: number } {
  // Form answers are checked before anything is judged or spent: a mistake there costs no link.
  let response: Record<string, unknown> | undefined;
  if (request.spec.form) {
    const read = readResponse(request.spec.form, body.response, { fromHtml: !!meta.fromHtml, approving: body.approved });
    if (!read.ok) return { result: fail('INVALID_RESPONSE', 400, `the form answers are invalid: ${read.issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, read.issues) };
    response = read.value;
  } else if (body.response !== undefined && Object.keys(body.response).length > 0) {
    return { result: fail('INVALID_RESPONSE', 400, 'this step has no form: send approved, feedback and reason only') };
  }
  const result = transition(request.approval, { type: 'decide', decider, approved: body.approved, feedback: body.feedback, reason: body.reason, ...(response ? { response } : {}), at: now, ...(requester ? { requester } : {}) });
  if (!result.ok) {
    const { code, status, message, details } = result.refusal;
    // Attempts refused for who made them are evidence: logged up to a cap per channel, so typed
    // names on a shared link can neither flood storage nor crowd out a verified attempt.
    if ((status === 403 || status === 503) && store.refusalCount(request.id, decider.via) < LIMITS.refusalsAudited) {
      store.audit('decision-refused', { code, name: decider.name, via: decider.via, verified: decider.verified, approved: body.approved, ip: meta.ip, userAgent: meta.userAgent }, now, request.id);
    }
    return { result: fail(code, status, message, details), due: code === 'EXPIRED' ? now : undefined };
  }
  // All decisions of a request are kept (state, output, index): their text has one budget.
  const bytes = jsonBytes(result.state.approvals);
  if (bytes > LIMITS.decisionsBytes) {
    return { result: fail('PAYLOAD_TOO_LARGE', 413, `the decisions of this request would take ${bytes} bytes (limit ${LIMITS.decisionsBytes}): shorten the feedback or reason`) };
  }
  const decision = result.decision!;
  const { approver, verified, via } = decision;
  if (spends) store.markTokenUsed(spends, now, approver);
  store.insertDecision({ requestId: request.id, approver, verified, via: via!, approved: body.approved, reason: body.reason, feedback: body.feedback, at: now, ip: meta.ip, userAgent: meta.userAgent });
  store.saveApproval(request.id, result.state);
  store.audit('decision', {
    approver, verified, via, approved: body.approved, reason: body.reason, feedback: body.feedback, ip: meta.ip, userAgent: meta.userAgent, status: result.state.status,
    ...(decider.name !== approver ? { as: decider.name } : {}),
    ...(result.superseded ? { supersedes: { approver: result.superseded.approver, via: result.superseded.via, at: result.superseded.timestamp } } : {}),
  }, now, request.id);
  if (result.final) closeRequest(store, request, result.state, now);
  refreshMessages(store, request.id, now);
  log('decision', { executionId: state.executionId, step: request.step, approver, verified, via, approved: body.approved, status: result.state.status });
  const view: DecisionView = {
    executionId: state.executionId,
    step: request.step,
    status: result.state.status,
    approved: result.state.status === 'approved',
    approvals: result.state.approvals,
    decision: { approver, approved: body.approved, verified, via: via!, at: new Date(now).toISOString() },
  };
  return { result: ok(view), due: result.final ? now : undefined };
}

/** Posted messages (Slack app) show the request as it is now: queue one update of them. */
export function refreshMessages(store: ExecutionStore, requestId: number, now: number): void {
  if (store.messages(requestId, 'slack').length > 0 && !store.updatePending(requestId)) {
    store.enqueue(requestId, 'slack', 'update', now);
  }
}

/** Whatever is due on the open request: expiry (or escalation on timeout), escalation, a reminder. */
export async function followUp(store: ExecutionStore, env: Env, state: RunState, request: RequestRow, now: number): Promise<void> {
  const { spec } = request;
  if (now >= request.expiresAt) {
    if (spec.onTimeout === 'escalate' && !request.approval.escalated) {
      await escalateRequest(store, env, request, now, now + spec.timeoutMs);
      refreshMessages(store, request.id, now);
    } else {
      expire(store, state, request, now);
    }
    return;
  }
  if (request.escalateAt !== null && now >= request.escalateAt) {
    await escalateRequest(store, env, request, now);
    refreshMessages(store, request.id, now);
    request = store.requestById(request.id)!;
  }
  if (request.nextReminderAt !== null && now >= request.nextReminderAt) {
    const sent = request.remindersSent + 1;
    const undecided = request.approval.approvers.filter((a) => !hasDecided(request.approval.approvals, a, true));
    store.setReminder(request.id, sent, sent < spec.reminders && spec.remindAfterMs ? now + spec.remindAfterMs : null);
    for (const channel of spec.channels) {
      // A request announced with others is reminded with them: one message for the group.
      if (request.grp === null) store.enqueue(request.id, channel, 'reminder', now);
      else if (!store.outboxWaiting(request.grp, channel, 'batch-reminder')) store.enqueue(request.grp, channel, 'batch-reminder', now);
    }
    store.audit('reminder', { number: sent, of: spec.reminders, to: undecided }, now, request.id);
  }
}

function expire(store: ExecutionStore, state: RunState, request: RequestRow, now: number): void {
  const result = transition(request.approval, { type: 'expire', at: now });
  if (!result.ok) return;
  store.saveApproval(request.id, result.state);
  refreshMessages(store, request.id, now);
  store.audit('timeout', { step: request.step, onTimeout: request.spec.onTimeout, status: result.state.status }, now, request.id);
  closeRequest(store, request, result.state, now);
}

/**
 * A decided or expired request: its result (the step's output, or with `onTimeout: fail` the
 * step's failure) is in the request row; the run takes it in when it continues (`takeResults`).
 * The run state itself is not written here: a continuation may be under way, and it would write
 * its own copy over this one.
 */
function closeRequest(store: ExecutionStore, request: RequestRow, approval: ApprovalState, now: number): void {
  store.audit('resumed', { step: request.step, status: approval.status }, now, request.id);
}

/** What a closed request gives its step: the hitl output, or the failure of a `fail` timeout. Undefined while it waits, or when it was cancelled. */
export function resultOf(request: RequestRow): { output: unknown } | { error: { code: string; message: string } } | undefined {
  const { approval } = request;
  if (approval.status === 'pending' || approval.status === 'cancelled') return undefined;
  if (request.spec.event) return waitResult(request);
  if (approval.status === 'timeout' && request.spec.onTimeout === 'fail') {
    return { error: { code: 'HITL_TIMEOUT', message: `approval timed out at ${new Date(request.expiresAt).toISOString()}` } };
  }
  return { output: outputOf(approval, request.spec.form) };
}

/** What an `agent: wait` step gives: the event it received, or its timeout. */
function waitResult(request: RequestRow): { output: WaitOutput } | { error: { code: string; message: string } } {
  const { approval, spec } = request;
  if (approval.status === 'received' && approval.received) return { output: { status: 'received', data: approval.received.data, receivedAt: approval.received.receivedAt, event: approval.received.id } };
  if (spec.onTimeout === 'fail') return { error: { code: 'WAIT_TIMEOUT', message: `no '${spec.event!.name}' event for key '${spec.event!.key}' arrived by ${new Date(request.expiresAt).toISOString()}` } };
  return { output: { status: 'timeout', data: null, receivedAt: null, event: null } };
}

/** The output of an `agent: wait` step. */
export interface WaitOutput {
  status: 'received' | 'timeout';
  data: unknown;
  receivedAt: string | null;
  /** The event's id (its delivery id, or the one it was given). */
  event: string | null;
}

/**
 * The event a wait waits for arrived: its request closes with it (synchronous, like a decision).
 * False when it no longer waits (timed out, closed by the flow, or it received another event).
 */
export function receiveEvent(store: ExecutionStore, request: RequestRow, event: ReceivedEvent, now: number): boolean {
  const result = transition(request.approval, { type: 'receive', event, at: now });
  if (!result.ok) return false;
  store.saveApproval(request.id, result.state);
  store.audit('event', { step: request.step, event: request.spec.event!.name, key: request.spec.event!.key, id: event.id, receivedAt: event.receivedAt }, now, request.id);
  closeRequest(store, request, result.state, now);
  return true;
}

/**
 * The run state with the results of every request that closed since it was read: each waiting
 * step whose request was decided (or timed out) becomes done (or failed), and the run is due to
 * continue. `changed` says whether any did.
 */
export function takeResults(store: ExecutionStore, state: RunState, now: number): { state: RunState; changed: boolean } {
  let next = state;
  let changed = false;
  if (!state.steps.some((r) => r.status === 'suspended')) return { state, changed };
  const closed = store.closedSteps();
  for (const r of state.steps) {
    if (r.status !== 'suspended') continue;
    const id = closed.get(pathOf(r));
    const request = id === undefined ? undefined : store.requestById(id);
    const result = request && resultOf(request);
    if (!result) continue;
    // Finished when it was decided (a parallel `any` takes the branch decided first).
    next = completeWaitingStep(next, pathOf(r), new Date(request.approval.decidedAt ?? now), result);
    changed = true;
  }
  return { state: next, changed };
}

/**
 * A request closed without a decision: the run was cancelled, or the flow no longer waits on it
 * (another branch of a parallel `any` won, a branch beside it failed, the run ended). Its links
 * answer 410 from now on; posted messages are updated.
 */
export function closeRequestByFlow(store: ExecutionStore, request: RequestRow, now: number, by?: string): void {
  const result = transition(request.approval, { type: 'cancel', at: now });
  if (!result.ok) return;
  store.saveApproval(request.id, result.state);
  refreshMessages(store, request.id, now);
  if (by) store.audit('closed', { step: request.step, by }, now, request.id);
}

/**
 * Saves a run that ended. Saving cannot be allowed to fail into a retry (the steps ran): if the
 * state cannot be written, a small failed state is, without the step outputs.
 */
export function finishRun(store: ExecutionStore, env: Env, state: RunState, now: number): void {
  try {
    store.saveState(state, now);
  } catch (e) {
    state = {
      ...state,
      status: 'failed',
      output: undefined,
      steps: state.steps.map((r) => ({ ...r, input: null, output: null })),
      error: { code: 'CHECKPOINT_FAILED', message: `the finished run could not be saved: ${e instanceof Error ? e.message : String(e)}` },
    };
    store.saveState(state, now);
  }
  store.audit(state.status === 'completed' ? 'completed' : 'failed', state.status === 'completed' ? { output: state.output } : { ...state.error }, now);
  endRun(store, env, now);
}

/** A run that ended: its storage (and index row) go after the retention period. */
export function endRun(store: ExecutionStore, env: Env, now: number): void {
  store.setCleanup(now + retentionDays(env) * 86_400_000);
}

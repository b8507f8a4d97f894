import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { defaultRegistry } from '../ensemble/default-registry';
import { advance, completeSuspendedStep } from '../runtime/engine';
import { agents } from '../runtime/agents';
import type { RunState } from '../runtime/run-state';
import { deliverDue } from './deliver';
import { displayIdentity, sameIdentity } from '../identity/normalize';
import { isEmail } from '../notify/mailchannels';
import { slackUserNames } from '../notify/slack-api';
import { outputOf, transition, type ApprovalState, type Decider } from './machine';
import type { DecisionBody, DecisionVia } from './request';
import { fail, ok, type Result } from './result';
import { escalateRequest, openRequest } from './links';
import { ExecutionStore, type RequestRow, type TokenRow } from './store';
import { hashToken, sameHash } from './token';
import { executionView, pendingView, tokenView, type PendingView, type TokenView } from './views';

export interface StoredDefinition {
  file: string;
  source: string;
  hash: string;
}

export interface RequestMeta {
  ip?: string;
  userAgent?: string;
}

export interface DecisionView {
  executionId: string;
  step: string;
  status: ApprovalState['status'];
  approved: boolean;
  approvals: ApprovalState['approvals'];
  decision: { approver: string; approved: boolean; verified: boolean; via: DecisionVia; at: string };
}

/** At most this many refused attempts are audited per request and channel (`via`). */
const MAX_LOGGED_REFUSALS = 50;

const SLACK_ID = /^\s*slack:\s*([A-Z0-9]{2,32})\s*$/i;

/**
 * Who decides through a link: its bound approver (with `aliases`, their other verified names), a
 * verified Access user, or a typed name.
 */
function linkDecider(row: TokenRow, body: DecisionBody, status: string, viewer: string | undefined, aliases: string[]): Result<Decider> {
  if (row.approver !== null) {
    // A personal link opened by someone Access knows as another person was forwarded: refuse. Only
    // comparable when the link's owner has an email (Access knows people by email).
    const names = [row.approver, ...aliases];
    if (viewer !== undefined && names.some(isEmail) && !names.some((n) => sameIdentity(n, viewer))) {
      return fail('IDENTITY_MISMATCH', 403, `this link belongs to ${row.approver}, but you are signed in as ${viewer}`, { linkFor: row.approver, signedInAs: viewer });
    }
    if (row.usedAt !== null) return tokenUsed(row, status);
    return ok({ name: row.approver, aliases, verified: true, via: 'link' });
  }
  if (viewer !== undefined) return ok({ name: viewer, verified: true, via: 'access' });
  if (row.usedAt !== null) return tokenUsed(row, status);
  const typed = body.approver ?? 'anonymous';
  if (displayIdentity(typed) === '') return fail('INVALID_INPUT', 400, 'the approver name is empty once invisible characters are removed');
  return ok({ name: typed, verified: false, via: 'shared' });
}

const tokenUsed = (row: TokenRow, status: string) =>
  fail('TOKEN_USED', 409, `this link was already used by ${row.usedBy} at ${new Date(row.usedAt!).toISOString()}`, {
    decidedBy: row.usedBy, decidedAt: new Date(row.usedAt!).toISOString(), status,
  });

/**
 * A Slack user whose email Slack did not share cannot be told apart from a requester named by
 * email: such a step fails closed for them.
 */
function requesterUncheckable(request: RequestRow, names: string[]): Result<never> | undefined {
  const requester = request.spec.requester;
  if (!requester || SLACK_ID.test(requester) || names.some(isEmail)) return undefined;
  return fail('IDENTITY_LOOKUP_FAILED', 503, 'Slack did not share your email, so separation of duties cannot be checked: try again later, or ask an admin to grant the app users:read.email');
}

/** A Slack user: recorded by email when Slack shares it, matched to approvers by id or email. */
function slackDecider(names: string[]): Decider {
  const email = names.find((n) => n.includes('@'));
  return { name: email ?? names[0]!, aliases: names.filter((n) => n !== email), verified: true, via: 'slack' };
}

// If the isolate dies while it continues a run, this alarm picks the run up again from its last checkpoint.
const WATCHDOG_MS = 30_000;

/**
 * One execution's durable home once it suspends (one object per execution, `idFromName(id)`).
 * It owns the run from then on: approval requests, tokens, decisions, timeouts, notifications,
 * continuing the steps, the final result, and cleanup after retention. Reached only through RPC.
 */
export class HITLState extends DurableObject<Env> {
  private readonly store: ExecutionStore;
  /** The run continuation in flight in this instance, so two alarm invocations never run steps side by side. */
  private continuing?: Promise<void>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ExecutionStore(ctx.storage.sql);
    // Objects created by an earlier release get the tables and columns added since.
    if (this.store.exists()) this.store.migrate();
  }

  /** Takes over a run the Worker suspended: stores it, opens the approval request. */
  async begin(definition: StoredDefinition, state: RunState): Promise<PendingView> {
    const now = Date.now();
    this.store.migrate();
    if (!this.store.exists()) this.store.insertRun(state, definition, now);
    const request = this.store.openRequest() ?? (await openRequest(this.store, this.env, state, now));
    await this.schedule();
    return pendingView(request);
  }

  /** GET /callback/:token. Reads only: never marks, consumes or creates anything. */
  async inspect(token: string, viewer?: string): Promise<Result<TokenView>> {
    const found = this.findToken(token);
    if (!found.ok) return found;
    const { run, request, row } = found.value;
    return ok(tokenView(run, request, row, viewer));
  }

  /**
   * POST /callback/:token. Everything from the token lookup to the claim is synchronous SQL, so no
   * other event can interleave: concurrent or repeated callbacks decide at most once.
   * `viewer` is the person a verified Cloudflare Access assertion names (checked by the Worker).
   */
  async decide(token: string, body: DecisionBody, meta: RequestMeta, viewer?: string): Promise<Result<DecisionView>> {
    let found = this.findToken(token);
    if (!found.ok) return found;
    // The personal link of a `slack:U…` approver: their Slack email is one of their names too, so
    // separation of duties and "one person, one decision" see the same person behind both spellings.
    let aliases: string[] = [];
    const bound = found.value.row.approver;
    if (bound && SLACK_ID.test(bound) && typeof this.env.SLACK_BOT_TOKEN === 'string' && this.env.SLACK_BOT_TOKEN) {
      const { names, lookupError } = await slackUserNames(this.env, SLACK_ID.exec(bound)![1]!);
      if (lookupError && found.value.request.spec.requester && !SLACK_ID.test(found.value.request.spec.requester)) {
        return fail('IDENTITY_LOOKUP_FAILED', 503, `could not read ${bound}'s email from Slack to check separation of duties; try again`, { error: lookupError });
      }
      aliases = names.filter((n) => !sameIdentity(n, bound));
      // Read again: anything may have happened while Slack answered.
      found = this.findToken(token);
      if (!found.ok) return found;
    }
    const { run, request, row } = found.value;
    const who = linkDecider(row, body, request.approval.status, viewer, aliases);
    if (!who.ok) return who;
    // A link is spent by the decision it carries, except a shared link opened by verified Access
    // users: each of them is a distinct identity, and each can decide once.
    const spends = who.value.via !== 'access' ? row.hash : undefined;
    const { result, due } = this.record(run.state, request, who.value, body, meta, Date.now(), spends);
    await this.schedule(due);
    return result;
  }

  /**
   * A decision from a Slack app button or modal. `names` are the clicking user's verified names
   * (`slack:U…` and their profile email). `interaction` identifies the Slack interaction: a retry
   * of it answers what the first delivery answered and records nothing.
   */
  async decideInSlack(requestId: number, names: string[], body: DecisionBody, interaction: string): Promise<Result<DecisionView & { repeated: boolean }>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'this approval request no longer exists');
    const earlier = this.store.interaction(interaction) as DecisionView | undefined;
    if (earlier) return ok({ ...earlier, repeated: true });
    const request = this.store.requestById(requestId);
    if (!request) return fail('NOT_FOUND', 404, 'this approval request no longer exists');
    const unknown = requesterUncheckable(request, names);
    if (unknown) return unknown;
    const { result, due } = this.record(this.store.run()!.state, request, slackDecider(names), body, { userAgent: 'slack' }, Date.now());
    // Only what was recorded is remembered: a refusal records nothing, and asking again (once the
    // cause is gone) must be judged afresh. So the table grows only with decisions.
    if (result.ok) this.store.saveInteraction(interaction, Date.now(), result.value);
    await this.schedule(due);
    return result.ok ? ok({ ...result.value, repeated: false }) : result;
  }

  /**
   * Whether this Slack user could decide the request now (before asking them for a reason).
   * `repeated` when Slack retries the same click: the reason form is not opened twice.
   */
  async slackEligibility(requestId: number, names: string[], interaction: string): Promise<Result<{ ensemble: string; step: string; prompt: string; repeated: boolean }>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'this approval request no longer exists');
    const request = this.store.requestById(requestId);
    if (!request) return fail('NOT_FOUND', 404, 'this approval request no longer exists');
    const about = { ensemble: this.store.run()!.state.ensemble, step: request.step, prompt: request.spec.prompt };
    if (this.store.interaction(interaction) !== undefined) return ok({ ...about, repeated: true });
    const unknown = requesterUncheckable(request, names);
    if (unknown) return unknown;
    const result = transition(request.approval, { type: 'decide', decider: slackDecider(names), approved: false, at: Date.now() });
    if (!result.ok) return fail(result.refusal.code, result.refusal.status, result.refusal.message, result.refusal.details);
    this.store.saveInteraction(interaction, Date.now(), about);
    return ok({ ...about, repeated: false });
  }

  /**
   * Applies one decision. Synchronous on purpose: the check and the claim (link spent, decision and
   * approval state saved, audit) cannot interleave with anything. `due` is when the alarm must run.
   */
  private record(state: RunState, request: RequestRow, decider: Decider, body: DecisionBody, meta: RequestMeta, now: number, spends?: string): { result: Result<DecisionView>; due?: number } {
    const result = transition(request.approval, { type: 'decide', decider, approved: body.approved, feedback: body.feedback, reason: body.reason, at: now });
    if (!result.ok) {
      const { code, status, message, details } = result.refusal;
      // Attempts refused for who made them are evidence: logged up to a cap per channel, so typed
      // names on a shared link can neither flood storage nor crowd out a verified attempt.
      if (status === 403 && this.store.refusalCount(request.id, decider.via) < MAX_LOGGED_REFUSALS) {
        this.store.audit('decision-refused', { code, name: decider.name, via: decider.via, verified: decider.verified, approved: body.approved, ip: meta.ip, userAgent: meta.userAgent }, now, request.id);
      }
      return { result: fail(code, status, message, details), due: code === 'EXPIRED' ? now : undefined };
    }
    const decision = result.decision!;
    const { approver, verified, via } = decision;
    if (spends) this.store.markTokenUsed(spends, now, approver);
    this.store.insertDecision({ requestId: request.id, approver, verified, via: via!, approved: body.approved, reason: body.reason, feedback: body.feedback, at: now, ip: meta.ip, userAgent: meta.userAgent });
    this.store.saveApproval(request.id, result.state);
    this.store.audit('decision', {
      approver, verified, via, approved: body.approved, reason: body.reason, feedback: body.feedback, ip: meta.ip, userAgent: meta.userAgent, status: result.state.status,
      ...(decider.name !== approver ? { as: decider.name } : {}),
      ...(result.superseded ? { supersedes: { approver: result.superseded.approver, via: result.superseded.via, at: result.superseded.timestamp } } : {}),
    }, now, request.id);
    if (result.final) this.closeRequest(state, request, result.state, now);
    this.refreshMessages(request.id, now);
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
  private refreshMessages(requestId: number, now: number): void {
    if (this.store.messages(requestId, 'slack').length > 0 && !this.store.updatePending(requestId)) {
      this.store.enqueue(requestId, 'slack', 'update', now);
    }
  }

  async describe(): Promise<Result<ReturnType<typeof executionView>>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    return ok(executionView(this.store.run()!, this.store.openRequest()));
  }

  async auditLog(): Promise<Result<ReturnType<ExecutionStore['auditLog']>>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    return ok(this.store.auditLog());
  }

  /** Cancels a suspended run: its request closes, its tokens answer 410 from now on. */
  async cancel(reason?: string): Promise<Result<ReturnType<typeof executionView>>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    const run = this.store.run()!;
    const request = this.store.openRequest();
    if (run.state.status !== 'suspended' || !request) {
      return fail('NOT_SUSPENDED', 409, `execution is ${run.state.status}, only a suspended execution can be cancelled`);
    }
    const now = Date.now();
    const result = transition(request.approval, { type: 'cancel', at: now });
    if (!result.ok) return fail(result.refusal.code, result.refusal.status, result.refusal.message, result.refusal.details);
    this.store.saveApproval(request.id, result.state);
    this.refreshMessages(request.id, now);
    const state: RunState = { ...run.state, status: 'cancelled', suspension: undefined };
    this.store.saveState(state, now);
    this.store.audit('cancelled', { step: request.step, ...(reason ? { reason } : {}) }, now, request.id);
    this.endRun(now);
    await this.schedule();
    return ok(executionView(this.store.run()!, undefined));
  }

  /** Timeouts, continuing the run, notifications and cleanup: whatever is due. */
  override async alarm(): Promise<void> {
    if (!this.store.exists()) return;
    const now = Date.now();
    const run = this.store.run()!;
    if (run.cleanupAt !== null && now >= run.cleanupAt) {
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      return;
    }
    const open = this.store.openRequest();
    if (open) await this.followUp(run.state, open, now);
    if (this.store.run()!.state.status === 'running') {
      this.continuing ??= this.continueRun().finally(() => (this.continuing = undefined));
      await this.continuing;
    }
    const latest = this.store.run()!;
    await deliverDue(this.store, this.env, latest.state.executionId, latest.state.ensemble, Date.now());
    await this.schedule();
  }

  private findToken(token: string): Result<{ run: NonNullable<ReturnType<ExecutionStore['run']>>; request: RequestRow; row: NonNullable<ReturnType<ExecutionStore['token']>> }> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'unknown or invalid link');
    const hash = hashToken(token);
    const row = this.store.token(hash);
    if (!row || !sameHash(row.hash, hash)) return fail('NOT_FOUND', 404, 'unknown or invalid link');
    const request = this.store.requestById(row.requestId)!;
    return ok({ run: this.store.run()!, request, row });
  }


  /** Whatever is due on the open request: expiry (or escalation on timeout), escalation, a reminder. */
  private async followUp(state: RunState, request: RequestRow, now: number): Promise<void> {
    const { spec } = request;
    if (now >= request.expiresAt) {
      if (spec.onTimeout === 'escalate' && !request.approval.escalated) {
        await escalateRequest(this.store, this.env, request, now, now + spec.timeoutMs);
        this.refreshMessages(request.id, now);
      } else {
        this.expire(state, request, now);
      }
      return;
    }
    if (request.escalateAt !== null && now >= request.escalateAt) {
      await escalateRequest(this.store, this.env, request, now);
      this.refreshMessages(request.id, now);
      request = this.store.requestById(request.id)!;
    }
    if (request.nextReminderAt !== null && now >= request.nextReminderAt) {
      const sent = request.remindersSent + 1;
      const undecided = request.approval.approvers.filter((a) => !request.approval.approvals.some((d) => d.verified && sameIdentity(d.approver, a)));
      this.store.setReminder(request.id, sent, sent < spec.reminders && spec.remindAfterMs ? now + spec.remindAfterMs : null);
      for (const channel of spec.channels) this.store.enqueue(request.id, channel, 'reminder', now);
      this.store.audit('reminder', { number: sent, of: spec.reminders, to: undecided }, now, request.id);
    }
  }


  private expire(state: RunState, request: RequestRow, now: number): void {
    const result = transition(request.approval, { type: 'expire', at: now });
    if (!result.ok) return;
    this.store.saveApproval(request.id, result.state);
    this.refreshMessages(request.id, now);
    this.store.audit('timeout', { step: request.step, onTimeout: request.spec.onTimeout, status: result.state.status }, now, request.id);
    if (request.spec.onTimeout === 'fail') {
      const failed: RunState = { ...state, status: 'failed', suspension: undefined, error: { step: request.step, code: 'HITL_TIMEOUT', message: `approval timed out at ${new Date(request.expiresAt).toISOString()}` } };
      this.store.saveState(failed, now);
      this.store.audit('failed', failed.error!, now, request.id);
      this.endRun(now);
      return;
    }
    this.closeRequest(state, request, result.state, now);
  }

  /** A decided or expired request: its output goes into the step, and the run is due to continue. */
  private closeRequest(state: RunState, request: RequestRow, approval: ApprovalState, now: number): void {
    const output = outputOf(approval);
    this.store.saveState(completeSuspendedStep(state, output, new Date(now)), now);
    this.store.audit('resumed', { step: request.step, status: output.status }, now, request.id);
  }

  private async continueRun(): Promise<void> {
    const run = this.store.run()!;
    await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
    let state: RunState;
    try {
      const ensemble = defaultRegistry().fromSource({ file: run.file, source: run.source, hash: run.hash });
      state = await advance(ensemble, run.state, {
        env: this.env,
        scripts: defaultRegistry().scripts,
        agents,
        checkpoint: async (s) => this.store.saveState(s, Date.now()),
      });
    } catch (e) {
      state = { ...run.state, status: 'failed', error: { code: 'RESUME_FAILED', message: e instanceof Error ? e.message : String(e) } };
    }
    const now = Date.now();
    this.store.saveState(state, now);
    if (state.status === 'suspended') {
      await openRequest(this.store, this.env, state, now);
    } else {
      this.store.audit(state.status === 'completed' ? 'completed' : 'failed', state.status === 'completed' ? { output: state.output } : { ...state.error }, now);
      this.endRun(now);
    }
  }

  private endRun(now: number): void {
    const days = Number(this.env.EXECUTION_RETENTION_DAYS ?? 30);
    this.store.setCleanup(now + (Number.isFinite(days) && days >= 0 ? days : 30) * 86_400_000);
  }

  /** Sets the alarm to the earliest due time (`soon` forces an immediate one). */
  private async schedule(soon?: number): Promise<void> {
    const due = [this.store.nextDue(), soon].filter((t): t is number => t !== undefined);
    if (this.store.exists() && this.store.run()!.state.status === 'running') due.push(Date.now());
    if (due.length) await this.ctx.storage.setAlarm(Math.min(...due));
    else await this.ctx.storage.deleteAlarm();
  }
}


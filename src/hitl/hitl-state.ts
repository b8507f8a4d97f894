import type { LibraryFile } from '../library/library';
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { runSecrets } from '../runtime/env-secrets';
import type { RunState } from '../runtime/run-state';
import { deliverDue, type SealedTokens } from './deliver';
import { unseal } from './seal';
import { basePath, linksFor } from '../notify/notice';
import { configureLog } from '../log';
import { decidable, linkDecider, pick, slackFacts, viewerMismatch, type SlackFacts } from './deciders';
import type { Decider } from './machine';
import type { Channel, DecisionBody, DelegationBody } from './request';
import { commitRequests, prepareRequests } from './links';
import { findListed } from '../identity/normalize';
import { fail, ok, type Result } from './result';
import { ExecutionStore, type RequestRow } from './store';
import { delegatePlace, type DelegationHost, type DelegationView } from './delegation';
import { decideInSlack, slackEligibility, type SlackHost } from './slack-decisions';
import { closeRequestByFlow, endRun, receiveEvent, recordDecision, takeResults, type DecisionView, type RequestMeta } from './decisions';
import type { ReceivedEvent } from './machine';
import { RunLifecycle } from './lifecycle';
import { batchView, decideBatch, type BatchBody, type BatchResult, type BatchView } from './batch';
import { extendRequest, reassignRequest, type ExtendBody, type ReassignBody } from './operators';
import { StartClaims, type Claim } from './start-claim';
import { hashToken, sameHash } from './token';
import { executionView, inboxItemsOf, pendingView, tokenView, waitsOn, type InboxItem, type NotificationHealth, type PendingView, type TokenView } from './views';

export type { DecisionView, RequestMeta } from './decisions';
export type { InboxItem } from './views';
export type { DelegationView } from './delegation';
export type { BatchResult, BatchView } from './batch';

type Links = { personal: { approver: string; url: string }[]; shared?: string };
type PendingWithLinks = PendingView & { links?: Links };

/** What `begin` answers: the oldest request opened (`pending`, as before runs could wait on several) and all of them. */
export interface Begun {
  pending: PendingWithLinks;
  requests: PendingWithLinks[];
}

export interface StoredDefinition {
  file: string;
  source: string;
  hash: string;
  /** The files of agents/ and prompts/ it uses (src/library): part of the definition. */
  library?: LibraryFile[];
}

/**
 * One execution's durable home once it suspends (one object per execution, `idFromName(id)`).
 * It owns the run from then on: approval requests, tokens, decisions, timeouts, notifications,
 * continuing the steps, the final result, and cleanup after retention. Reached only through RPC.
 */
export class HITLState extends DurableObject<Env> {
  private readonly store: ExecutionStore;
  /** What the object does on its own after answering: notifications, the index, the alarm, continuing. */
  private readonly lifecycle: RunLifecycle;
  /** Starts sent with an Idempotency-Key that reached this execution. */
  private readonly claims: StartClaims;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    configureLog(env.LOG_LEVEL);
    // Everything the object writes to its audit log is redacted of this deployment's secrets.
    this.store = new ExecutionStore(ctx.storage.sql, () => runSecrets(env));
    // Objects created by an earlier release get the tables and columns added since.
    if (this.store.exists()) this.store.upgrade();
    this.lifecycle = new RunLifecycle(ctx, this.store, () => this.env);
    this.claims = new StartClaims(ctx.storage.sql);
  }

  /**
   * Takes over a run the Worker suspended: stores it, opens its approval requests (one per step
   * that waits: a parallel or a foreach may open several at once). Answers with the oldest, as
   * `pending`, and every one opened, as `requests`.
   */
  async begin(definition: StoredDefinition, state: RunState): Promise<Begun> {
    const now = Date.now();
    // What awaits (sealing and hashing the links) is done first, so that everything below is
    // written in one synchronous block: one transaction, one commit before the answer.
    const prepared = this.store.exists() ? undefined : await prepareRequests(this.env, state, now);
    // A run this object already holds is never begun again (a retried call, or two at once): the
    // answer is the requests the first call opened, open or already decided, and nothing is written.
    if (this.store.exists() || !prepared) return this.again(state.executionId);
    // All or nothing: a storage failure anywhere in here leaves no table, run, request, token or
    // outbox row behind (the Worker answers 503 and the start can be sent again).
    let requests: RequestRow[];
    try {
      requests = this.ctx.storage.transactionSync(() => {
        this.store.create();
        this.store.insertRun(state, definition, now);
        return commitRequests(this.store, prepared, state, now);
      });
    } catch (e) {
      this.store.forget();
      throw e;
    }
    // The requests are committed: answer now, and send their notifications and index them right after.
    await this.lifecycle.answerNow();
    // Links are bearer credentials: the caller gets them only when the step asks (returnLinks).
    const views = requests.map((request, i) => (request.spec.returnLinks ? { ...pendingView(request), links: this.linksOf(request, prepared[i]!.tokens) } : pendingView(request)));
    return { pending: views[0]!, requests: views };
  }

  /** What a repeated `begin` answers: the requests the first one opened (their links only while open). */
  private async again(executionId: string): Promise<Begun> {
    const first = this.store.firstRequest();
    if (!first) throw new Error(`execution ${executionId} holds no approval request`);
    const opened = this.store.requestsOpenedWith(first.createdAt);
    const views = await Promise.all(opened.map(async (request) => {
      if (!request.spec.returnLinks || !request.sealed || request.status !== 'pending') return pendingView(request);
      return { ...pendingView(request), links: this.linksOf(request, await unseal<SealedTokens>(this.env, executionId, request.sealed)) };
    }));
    return { pending: views[0]!, requests: views };
  }

  /** The review links of a request's tokens, as `returnLinks` answers them. */
  private linksOf(request: RequestRow, tokens: SealedTokens): { personal: { approver: string; url: string }[]; shared?: string } {
    const prefix = basePath(this.env.HITL_BASE_PATH);
    return {
      personal: tokens.personal.map((t) => ({ approver: t.approver, url: linksFor(request.spec.baseUrl, prefix, t.token).callbackUrl })),
      ...(tokens.shared ? { shared: linksFor(request.spec.baseUrl, prefix, tokens.shared).callbackUrl } : {}),
    };
  }

  /** GET /callback/:token. Reads only: never marks, consumes or creates anything. */
  async inspect(token: string, viewer?: string): Promise<Result<TokenView>> {
    const found = this.findToken(hashToken(token));
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
    // Hashed once: the token is looked up again after asking Slack.
    const hash = hashToken(token);
    let found = this.findToken(hash);
    if (!found.ok) return found;
    let who = linkDecider(found.value.row, body, found.value.request.approval.status, viewer);
    if (!who.ok) return who;
    // What Slack knows (the email behind a `slack:U…` approver or requester) is asked only for a
    // request that can still be decided, and before the synchronous claim below.
    let facts: SlackFacts = { decider: who.value };
    if (decidable(found.value.request)) {
      facts = await slackFacts(this.env, found.value.request, who.value);
      // Read again: anything may have happened while Slack answered.
      found = this.findToken(hash);
      if (!found.ok) return found;
      who = linkDecider(found.value.row, body, found.value.request.approval.status, viewer);
      if (!who.ok) return who;
    }
    const { run, request, row } = found.value;
    const decider = { ...who.value, ...pick(facts.decider) };
    const forwarded = viewerMismatch(decider, viewer);
    if (forwarded) return forwarded;
    // A link is spent by the decision it carries, except a shared link opened by verified Access
    // users: each of them is a distinct identity, and each can decide once.
    const spends = decider.via !== 'access' ? row.hash : undefined;
    const { result, due } = recordDecision(this.store, run.state, request, decider, body, meta, Date.now(), facts.requester, spends);
    // A final decision continues the run right away; the alarm is the safety net.
    await this.lifecycle.answerNow(due);
    return result;
  }

  /** POST /executions/:id/requests/:step/extend (operators): a later deadline for an open request. */
  async extend(step: string, body: ExtendBody): Promise<Result<PendingView>> {
    return extendRequest(this.host(), step, body);
  }

  /** POST /executions/:id/requests/:step/reassign (operators): an approver's place handed on, or one added. */
  async reassign(step: string, body: ReassignBody): Promise<Result<PendingView>> {
    return reassignRequest(this.host(), step, body);
  }

  /** GET /callback/batch/:token: an approver's items of a group announced together. Reads only. */
  async inspectBatch(token: string, viewer?: string): Promise<Result<BatchView>> {
    return batchView(this.store, token, viewer);
  }

  /** POST /callback/batch/:token: decisions on several items, each judged and claimed on its own. */
  async decideBatch(token: string, body: BatchBody, meta: RequestMeta, viewer?: string): Promise<Result<BatchResult>> {
    return decideBatch(this.host(), token, body, meta, viewer);
  }

  /**
   * What `/inbox` shows of this run's open requests to a Cloudflare Access user: those that wait
   * on them (not closed, not decided by them, they are an approver).
   */
  async inboxItems(viewer: string): Promise<InboxItem[]> {
    return inboxItemsOf(this.store, viewer);
  }

  /** A decision from `/inbox` by a verified Cloudflare Access user (the Worker verified the assertion). */
  async decideAs(viewer: string, body: DecisionBody, meta: RequestMeta, step?: string): Promise<Result<DecisionView>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    const open = this.store.openRequests().filter((r) => step === undefined || r.step === step);
    if (open.length === 0) return fail('NOT_SUSPENDED', 409, step !== undefined ? `no request of step '${step}' is waiting` : 'this execution waits on no decision');
    // The inbox decides only what waits on the viewer by name. A request that names no approvers
    // is decided through its link (the link is the credential), never by knowing its execution id.
    // The one that waits on them (as /inbox lists it); else one they are listed on, which says why not.
    const found = open.find((r) => waitsOn(r, viewer)) ?? open.find((r) => r.approval.approvers.length > 0 && findListed(r.approval.approvers, [viewer]));
    if (!found) return fail('NOT_AN_APPROVER', 403, `${viewer} is not an approver of ${step !== undefined ? 'this request' : 'any request of this execution'}: use the link you were sent`);
    const decider: Decider = { name: viewer, verified: true, via: 'access' };
    const facts = decidable(found) ? await slackFacts(this.env, found, decider) : { decider };
    // Read again after asking Slack: anything may have happened meanwhile.
    const request = this.store.requestById(found.id)!;
    const { result, due } = recordDecision(this.store, this.store.run()!.state, request, decider, body, meta, Date.now(), facts.requester);
    await this.lifecycle.answerNow(due);
    return result;
  }

  /**
   * POST /callback/:token with `{ delegateTo }`: the verified approver behind this link (or the
   * Access user on a shared one) hands their place to someone else, who gets a link of their own
   * through the step's channels. The delegator's link is spent; the machine judges the rest.
   */
  async delegate(token: string, body: DelegationBody, meta: RequestMeta, viewer?: string): Promise<Result<DelegationView>> {
    return delegatePlace(this.host(), token, body, meta, viewer);
  }

  /**
   * A decision from a Slack app button or modal. `names` are the clicking user's verified names
   * (`slack:U…` and their profile email). `interaction` identifies the Slack interaction: a retry
   * of it answers what the first delivery answered and records nothing.
   */
  async decideInSlack(requestId: number, names: string[], body: DecisionBody, interaction: string): Promise<Result<DecisionView & { repeated: boolean }>> {
    return decideInSlack(this.host(), requestId, names, body, interaction);
  }

  /**
   * Whether this Slack user could decide the request now (before asking them for a reason).
   * `repeated` when Slack retries the same click: the reason form is not opened twice.
   */
  async slackEligibility(requestId: number, names: string[], interaction: string): Promise<Result<{ ensemble: string; step: string; prompt: string; repeated: boolean }>> {
    return slackEligibility(this.host(), requestId, names, interaction);
  }

  /** What the entry points kept in their own modules (Slack, delegation) need of this object. */
  private host(): SlackHost & DelegationHost {
    return {
      store: this.store,
      env: this.env,
      find: (hash) => this.findToken(hash),
      answerNow: (due) => this.lifecycle.answerNow(due),
      settle: () => this.lifecycle.settle(),
    };
  }

  async describe(): Promise<Result<ReturnType<typeof executionView>>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    const open = this.store.openRequests();
    return ok(executionView(this.store.run()!, open, (id) => this.store.notificationHealth(id)));
  }

  /**
   * Sends the open requests' notifications again (all their channels, or `channels`; one request
   * with `step`), now, whatever the retries did before: how an operator recovers a request whose
   * channel was down. Audited.
   */
  async renotify(channels?: Channel[], step?: string): Promise<Result<{ executionId: string; step: string; notifications: NotificationHealth; requests: { step: string; notifications: NotificationHealth }[] }>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    const run = this.store.run()!;
    // A wait for an event tells no one: there is nothing to send again.
    const open = this.store.openRequests().filter((r) => (step === undefined || r.step === step) && !r.spec.event);
    if (run.state.status !== 'suspended' || open.length === 0) return fail('NOT_SUSPENDED', 409, step !== undefined ? `no request of step '${step}' is waiting for people` : `execution is ${run.state.status === 'suspended' ? 'waiting for events only' : run.state.status}: only a pending approval request can be notified`);
    const now = Date.now();
    for (const request of open) {
      const wanted = channels?.length ? channels : request.spec.channels;
      const unknown = wanted.filter((c) => !request.spec.channels.includes(c) && c !== 'console');
      if (unknown.length) return fail('UNKNOWN_CHANNEL', 400, `the request of step '${request.step}' is not sent to ${unknown.join(', ')} (its channels: ${request.spec.channels.join(', ')})`);
    }
    for (const request of open) {
      const wanted = channels?.length ? channels : request.spec.channels;
      // A request announced with others is sent again with them: one message for the group.
      for (const channel of wanted) {
        if (request.grp === null) this.store.enqueue(request.id, channel, 'request', now);
        else if (!this.store.outboxWaiting(request.grp, channel, 'batch-request')) this.store.enqueue(request.grp, channel, 'batch-request', now);
      }
      this.store.audit('renotify', { step: request.step, channels: wanted }, now, request.id);
    }
    await deliverDue(this.store, this.env, run.state.executionId, run.state.ensemble, now);
    await this.lifecycle.schedule();
    const requests = open.map((r) => ({ step: r.step, notifications: this.store.notificationHealth(r.id) }));
    return ok({ executionId: run.state.executionId, step: requests[0]!.step, notifications: requests[0]!.notifications, requests });
  }

  /**
   * An event for a wait of this run (from its event box): the wait's request closes with it and the
   * run goes on. `accepted` when it took this event (again: offers are repeated after failures),
   * `closed` when the wait no longer waits (timed out, closed by its flow, took another event).
   */
  async receiveEvent(requestId: number, name: string, key: string, event: ReceivedEvent): Promise<'accepted' | 'closed'> {
    if (!this.store.exists()) return 'closed';
    const request = this.store.requestById(requestId);
    if (!request?.spec.event || request.spec.event.name !== name || request.spec.event.key !== key) return 'closed';
    if (request.approval.received?.id === event.id) return 'accepted';
    const now = Date.now();
    if (!receiveEvent(this.store, request, event, now)) return 'closed';
    // The box gave it this event: its registration is settled.
    this.store.setRegisterAt(request.id, null);
    await this.lifecycle.answerNow(now);
    return 'accepted';
  }

  async auditLog(): Promise<Result<ReturnType<ExecutionStore['auditLog']>>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    return ok(this.store.auditLog());
  }

  /** Cancels a suspended run: its request closes, its tokens answer 410 from now on. */
  async cancel(reason?: string): Promise<Result<ReturnType<typeof executionView>>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    const run = this.store.run()!;
    const open = this.store.openRequests();
    if (run.state.status !== 'suspended') {
      return fail('NOT_SUSPENDED', 409, `execution is ${run.state.status}, only a suspended execution can be cancelled`);
    }
    if (open.length === 0) {
      return fail('NOT_SUSPENDED', 409, 'the approvals this execution waited on were decided and the run is going on: cancel it when it waits again');
    }
    const now = Date.now();
    // Every request it waits on closes (their links answer 410); each waiting step reads cancelled.
    // Steps whose requests were decided just before keep their decisions.
    for (const request of open) closeRequestByFlow(this.store, request, now);
    const decided = takeResults(this.store, run.state, now).state;
    const steps = decided.steps.map((r) => (r.status === 'suspended' ? { ...r, status: 'cancelled' as const, output: null, durationMs: now - Date.parse(r.startedAt) } : r));
    const paths = new Set(open.map((r) => r.step));
    const state: RunState = { ...decided, steps, status: 'cancelled', suspension: undefined, suspensions: [] };
    this.store.saveState(state, now);
    this.store.audit('cancelled', { step: open[0]!.step, ...(paths.size > 1 ? { steps: [...paths] } : {}), ...(reason ? { reason } : {}) }, now, open[0]!.id);
    endRun(this.store, this.env, now);
    await this.lifecycle.syncIndex();
    await this.lifecycle.schedule();
    return ok(executionView(this.store.run()!, this.store.openRequests()));
  }

  /**
   * A start sent with an `Idempotency-Key` (this object is named after the ensemble and the key,
   * not after an execution): claims it, or says how it stands.
   */
  async claimStart(bodyHash: string): Promise<Claim> {
    return this.claims.claim(bodyHash, Date.now());
  }

  /** The claimed start is still running (after each of its steps). */
  async renewStart(): Promise<void> {
    this.claims.renew(Date.now());
  }

  /** The claimed start answered: the same answer is replayed to retries for a day. */
  async finishStart(status: number, body: string, headers?: Record<string, string>): Promise<void> {
    const forgetAt = this.claims.finish(status, body, Date.now(), headers);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(forgetAt);
  }

  /** The claimed start failed before anything was kept: a retry with the same key runs it again. */
  async releaseStart(): Promise<void> {
    this.claims.release();
  }

  /** Timeouts, continuing the run, notifications and cleanup: whatever is due. */
  override async alarm(): Promise<void> {
    if (!this.store.exists()) {
      // An Idempotency-Key's object: forgotten once its key expires.
      if (this.claims.expired(Date.now())) await this.ctx.storage.deleteAll();
      else await this.ctx.storage.setAlarm(Date.now() + 3_600_000);
      return;
    }
    await this.lifecycle.alarm();
  }

  private findToken(hash: string): Result<{ run: NonNullable<ReturnType<ExecutionStore['run']>>; request: RequestRow; row: NonNullable<ReturnType<ExecutionStore['token']>> }> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'unknown or invalid link');
    const row = this.store.token(hash);
    if (!row || !sameHash(row.hash, hash)) return fail('NOT_FOUND', 404, 'unknown or invalid link');
    const request = this.store.requestById(row.requestId)!;
    return ok({ run: this.store.run()!, request, row });
  }
}

import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { scripts } from '../../generated/registry';
import { compileDefinition } from '../ensemble/registry';
import { runSecrets } from '../runtime/public-env';
import { advance } from '../runtime/engine';
import { agents } from '../runtime/agents';
import type { RunState } from '../runtime/run-state';
import { deliverDue, type SealedTokens } from './deliver';
import { unseal } from './seal';
import { basePath, linksFor } from '../notify/notice';
import { LIMITS } from '../limits';
import { deleteExecution, writeExecution } from '../executions/index-store';
import { rowOfObject } from '../executions/from-object';
import { configureLog, log } from '../log';
import { decidable, linkDecider, pick, slackFacts, viewerMismatch, type SlackFacts } from './deciders';
import { transition, type Decider } from './machine';
import type { Channel, DecisionBody, DelegationBody } from './request';
import { commitRequest, openRequest, prepareRequest } from './links';
import { findListed } from '../identity/normalize';
import { fail, ok, type Result } from './result';
import { ExecutionStore, type RequestRow } from './store';
import { delegatePlace, type DelegationHost, type DelegationView } from './delegation';
import { decideInSlack, slackEligibility, type SlackHost } from './slack-decisions';
import { endRun, finishRun, followUp, recordDecision, refreshMessages, type DecisionView, type RequestMeta } from './decisions';

export type { DecisionView, RequestMeta } from './decisions';
export type { InboxItem } from './views';
export type { DelegationView } from './delegation';
import { hashToken, sameHash } from './token';
import { executionView, inboxItemOf, pendingView, tokenView, type InboxItem, type NotificationHealth, type PendingView, type TokenView } from './views';

export interface StoredDefinition {
  file: string;
  source: string;
  hash: string;
}



// A failed write to the executions index is tried again this much later, by the alarm.
const INDEX_RETRY_MS = 5_000;

// After answering, the object does what is due itself; its alarm steps in this much later if it could not.
const SAFETY_NET_MS = 5_000;

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
    configureLog(env.LOG_LEVEL);
    // Everything the object writes to its audit log is redacted of this deployment's secrets.
    this.store = new ExecutionStore(ctx.storage.sql, () => runSecrets(env));
    // Objects created by an earlier release get the tables and columns added since.
    if (this.store.exists()) this.store.upgrade();
  }

  /** Takes over a run the Worker suspended: stores it, opens the approval request. */
  async begin(definition: StoredDefinition, state: RunState): Promise<PendingView & { links?: { personal: { approver: string; url: string }[]; shared?: string } }> {
    const now = Date.now();
    // What awaits (sealing and hashing the links) is done first, so that everything below is
    // written in one synchronous block: one transaction, one commit before the answer.
    const prepared = this.store.exists() ? undefined : await prepareRequest(this.env, state, now);
    // A run this object already holds is never begun again (a retried call, or two at once): the
    // answer is the request the first call opened, open or already decided, and nothing is written.
    if (this.store.exists() || !prepared) return this.again(state.executionId);
    this.store.create();
    this.store.insertRun(state, definition, now);
    const request = commitRequest(this.store, prepared);
    // The request is committed: answer now, and send its notifications and index it right after.
    await this.answerNow();
    // Links are bearer credentials: the caller gets them only when the step asks (returnLinks).
    return request.spec.returnLinks ? { ...pendingView(request), links: this.linksOf(request, prepared.tokens) } : pendingView(request);
  }

  /** What a repeated `begin` answers: the request the first one opened (its links only while it is open). */
  private async again(executionId: string): Promise<PendingView & { links?: { personal: { approver: string; url: string }[]; shared?: string } }> {
    const request = this.store.firstRequest();
    if (!request) throw new Error(`execution ${executionId} holds no approval request`);
    if (!request.spec.returnLinks || !request.sealed || request.status !== 'pending') return pendingView(request);
    return { ...pendingView(request), links: this.linksOf(request, await unseal<SealedTokens>(this.env, executionId, request.sealed)) };
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
    await this.answerNow(due);
    return result;
  }

  /**
   * What `/inbox` shows of this run's open request to a Cloudflare Access user, when it waits on
   * them: undefined when it does not (closed, decided, or they are not an approver).
   */
  async inboxItem(viewer: string): Promise<InboxItem | undefined> {
    return inboxItemOf(this.store, viewer);
  }


  /** A decision from `/inbox` by a verified Cloudflare Access user (the Worker verified the assertion). */
  async decideAs(viewer: string, body: DecisionBody, meta: RequestMeta): Promise<Result<DecisionView>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    const found = this.store.openRequest();
    if (!found) return fail('NOT_SUSPENDED', 409, 'this execution waits on no decision');
    // The inbox decides only what waits on the viewer by name. A request that names no approvers
    // is decided through its link (the link is the credential), never by knowing its execution id.
    if (found.approval.approvers.length === 0 || !findListed(found.approval.approvers, [viewer])) {
      return fail('NOT_AN_APPROVER', 403, `${viewer} is not an approver of this request: use the link you were sent`);
    }
    const decider: Decider = { name: viewer, verified: true, via: 'access' };
    const facts = decidable(found) ? await slackFacts(this.env, found, decider) : { decider };
    // Read again after asking Slack: anything may have happened meanwhile.
    const request = this.store.requestById(found.id)!;
    const { result, due } = recordDecision(this.store, this.store.run()!.state, request, decider, body, meta, Date.now(), facts.requester);
    await this.answerNow(due);
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
      answerNow: (due) => this.answerNow(due),
      settle: async () => {
        const { state } = this.store.run()!;
        await deliverDue(this.store, this.env, state.executionId, state.ensemble, Date.now());
        await this.syncIndex();
        await this.schedule();
      },
    };
  }

  async describe(): Promise<Result<ReturnType<typeof executionView>>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    const open = this.store.openRequest();
    return ok(executionView(this.store.run()!, open, open ? this.store.notificationHealth(open.id) : []));
  }

  /**
   * Sends the open request's notifications again (all its channels, or `channels`), now, whatever
   * the retries did before: how an operator recovers a request whose channel was down. Audited.
   */
  async renotify(channels?: Channel[]): Promise<Result<{ executionId: string; step: string; notifications: NotificationHealth }>> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
    const run = this.store.run()!;
    const request = this.store.openRequest();
    if (run.state.status !== 'suspended' || !request) return fail('NOT_SUSPENDED', 409, `execution is ${run.state.status}: only a pending approval request can be notified`);
    const wanted = channels?.length ? channels : request.spec.channels;
    const unknown = wanted.filter((c) => !request.spec.channels.includes(c) && c !== 'console');
    if (unknown.length) return fail('UNKNOWN_CHANNEL', 400, `this request is not sent to ${unknown.join(', ')} (its channels: ${request.spec.channels.join(', ')})`);
    const now = Date.now();
    for (const channel of wanted) this.store.enqueue(request.id, channel, 'request', now);
    this.store.audit('renotify', { channels: wanted }, now, request.id);
    await deliverDue(this.store, this.env, run.state.executionId, run.state.ensemble, now);
    await this.schedule();
    return ok({ executionId: run.state.executionId, step: request.step, notifications: this.store.notificationHealth(request.id) });
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
    refreshMessages(this.store, request.id, now);
    const state: RunState = { ...run.state, status: 'cancelled', suspension: undefined };
    this.store.saveState(state, now);
    this.store.audit('cancelled', { step: request.step, ...(reason ? { reason } : {}) }, now, request.id);
    endRun(this.store, this.env, now);
    await this.syncIndex();
    await this.schedule();
    return ok(executionView(this.store.run()!, undefined));
  }

  /** Timeouts, continuing the run, notifications and cleanup: whatever is due. */
  override async alarm(): Promise<void> {
    if (!this.store.exists()) return;
    const now = Date.now();
    const run = this.store.run()!;
    if (run.cleanupAt !== null && now >= run.cleanupAt) {
      // Retention ended: the index forgets it too (the hourly purge catches a failed delete).
      if (this.env.DB) await deleteExecution(this.env.DB, run.state.executionId).catch(() => undefined);
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.store.forget();
      return;
    }
    const open = this.store.openRequest();
    if (open) await followUp(this.store, this.env, run.state, open, now);
    if (this.store.run()!.state.status === 'running') {
      this.continuing ??= this.continueRun().finally(() => (this.continuing = undefined));
      await this.continuing;
    }
    const latest = this.store.run()!;
    await deliverDue(this.store, this.env, latest.state.executionId, latest.state.ensemble, Date.now());
    await this.syncIndex();
    await this.schedule();
  }

  private findToken(hash: string): Result<{ run: NonNullable<ReturnType<ExecutionStore['run']>>; request: RequestRow; row: NonNullable<ReturnType<ExecutionStore['token']>> }> {
    if (!this.store.exists()) return fail('NOT_FOUND', 404, 'unknown or invalid link');
    const row = this.store.token(hash);
    if (!row || !sameHash(row.hash, hash)) return fail('NOT_FOUND', 404, 'unknown or invalid link');
    const request = this.store.requestById(row.requestId)!;
    return ok({ run: this.store.run()!, request, row });
  }


  private async continueRun(): Promise<void> {
    const run = this.store.run()!;
    // The watchdog re-runs a step whose isolate died mid-way, but not forever: a step that kills
    // its isolate every time would otherwise repeat its side effect on every alarm.
    const tries = this.store.noteResume(run.state.cursor);
    if (tries > LIMITS.resumeAttempts) {
      finishRun(this.store, this.env, { ...run.state, status: 'failed', error: { code: 'RESUME_EXHAUSTED', message: `the run was interrupted ${tries - 1} times at step ${run.state.cursor + 1} and is not tried again (its side effects may have happened)` } }, Date.now());
      return;
    }
    await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
    let state: RunState;
    try {
      // The run's own definition, compiled from the source stored with it: not the registry of
      // ensembles/, so a broken file there (or a deploy) does not touch runs already under way.
      const ensemble = compileDefinition({ file: run.file, source: run.source, hash: run.hash }, scripts);
      state = await advance(ensemble, run.state, {
        env: this.env,
        scripts,
        agents,
        secrets: runSecrets(this.env),
        checkpoint: async (s) => this.store.saveState(s, Date.now()),
      });
    } catch (e) {
      state = { ...run.state, status: 'failed', error: { code: 'RESUME_FAILED', message: e instanceof Error ? e.message : String(e) } };
    }
    const now = Date.now();
    if (state.status === 'suspended') {
      this.store.saveState(state, now);
      await openRequest(this.store, this.env, state, now);
    } else {
      finishRun(this.store, this.env, state, now);
    }
  }

  /**
   * Brings this execution's row in the D1 index up to date when it lags. A failed write is tried
   * again by the alarm (INDEX_RETRY_MS later); the object stays the source of truth meanwhile.
   */
  private async syncIndex(): Promise<void> {
    const db = this.env.DB;
    if (!db || !this.store.exists()) return;
    const { version, indexed } = this.store.indexVersions();
    if (indexed >= version) return;
    const run = this.store.run()!;
    try {
      await writeExecution(db, rowOfObject(run, this.store.openRequest(), version), this.store.requestTimes());
      this.store.markIndexed(version);
      // A newer version may have come (and its write failed) meanwhile: it must stay covered.
      this.armIndexRetry();
    } catch (e) {
      this.store.setIndexRetry(Date.now() + INDEX_RETRY_MS);
      log('index-write-failed', { executionId: run.state.executionId, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** If this instance goes away before the index is written, the alarm writes it (soon, not at expiry). */
  private armIndexRetry(): void {
    const { version, indexed } = this.store.indexVersions();
    if (indexed < version) this.store.setIndexRetry(Date.now() + INDEX_RETRY_MS);
  }

  /**
   * A change is committed (a request opened, a decision recorded): the caller answers now. The
   * alarm is armed in the same synchronous block as the change (the index write included), and the
   * follow-up work starts at once (`soon`).
   */
  private async answerNow(due?: number): Promise<void> {
    this.armIndexRetry();
    const armed = this.schedule(due, SAFETY_NET_MS);
    this.soon();
    await armed;
  }

  /**
   * What is due right after a request: continue a run a decision just released, send what the
   * outbox holds, write the index. Not awaited by the caller; the alarm (always set before) does
   * the same if this instance goes away first, and outbox claims and index versions keep the two
   * from doing anything twice.
   */
  private soon(): void {
    const work = (async () => {
      // After the answer has gone out, not before: the caller waits for nothing of this.
      await new Promise((r) => setTimeout(r, 0));
      if (this.store.run()?.state.status === 'running') {
        this.continuing ??= this.continueRun().finally(() => (this.continuing = undefined));
        await this.continuing;
      }
      const run = this.store.run();
      if (!run) return;
      // Side by side: the index never waits for a slow notification endpoint.
      await Promise.all([deliverDue(this.store, this.env, run.state.executionId, run.state.ensemble, Date.now()), this.syncIndex()]);
      await this.schedule();
    })().catch((e) => log('after-commit-failed', { error: e instanceof Error ? e.message : String(e) }, 'warn'));
    this.ctx.waitUntil(work);
  }

  /**
   * Sets the alarm to the earliest due time (`soon` forces an immediate one). With `grace`, not
   * earlier than that from now: `soon()` is about to do what is due, and the alarm only steps in
   * if this instance goes away first (so the two do not race for the same work).
   */
  private async schedule(soon?: number, grace = 0): Promise<void> {
    const due = [this.store.nextDue(), soon].filter((t): t is number => t !== undefined);
    if (this.store.exists() && this.store.run()!.state.status === 'running') due.push(Date.now());
    if (due.length) await this.ctx.storage.setAlarm(Math.max(Math.min(...due), Date.now() + grace));
    else await this.ctx.storage.deleteAlarm();
  }
}


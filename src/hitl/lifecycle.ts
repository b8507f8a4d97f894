import type { Env } from '../env';
import { scripts } from '../../generated/registry';
import { compileDefinition } from '../ensemble/registry';
import { runSecrets } from '../runtime/env-secrets';
import { advance } from '../runtime/interpreter';
import { stepKinds } from '../kinds';
import type { RunState } from '../runtime/run-state';
import { deleteExecution, writeExecution } from '../executions/index-store';
import { rowOfObject } from '../executions/from-object';
import { LIMITS } from '../limits';
import { log } from '../log';
import { deliverDue } from './deliver';
import { closeRequestByFlow, followUp, finishRun, takeResults } from './decisions';
import { commitRequests, prepareRequests, unopened } from './links';
import { registerWaits } from '../events/register';
import type { ExecutionStore } from './store';

// What an execution's object does on its own, after the call that changed it has been answered:
// continue the run, send notifications, keep the D1 index in step, follow up on deadlines, clean
// up after retention. The alarm is always armed before anything here starts, so that whatever
// this instance does not finish, the next alarm does; outbox claims and index versions keep the
// two from doing anything twice.

// A failed write to the executions index is tried again this much later, by the alarm.
const INDEX_RETRY_MS = 5_000;

// After answering, the object does what is due itself; its alarm steps in this much later if it could not.
const SAFETY_NET_MS = 5_000;

// If the isolate dies while it continues a run, this alarm picks the run up again from its last checkpoint.
const WATCHDOG_MS = 30_000;

export class RunLifecycle {
  /** The run continuation in flight in this instance, so two alarm invocations never run steps side by side. */
  private continuing?: Promise<void>;

  /** `env` is the object's own, read on each use like any binding. */
  constructor(private readonly ctx: DurableObjectState, private readonly store: ExecutionStore, private readonly envOf: () => Env) {}

  private get env(): Env {
    return this.envOf();
  }

  /**
   * A change is committed (a request opened, a decision recorded): the caller answers now. The
   * alarm is armed in the same synchronous block as the change (the index write included), and the
   * follow-up work starts at once (`soon`).
   */
  async answerNow(due?: number): Promise<void> {
    this.armIndexRetry();
    const armed = this.schedule(due, SAFETY_NET_MS);
    this.soon();
    await armed;
  }

  /** Timeouts, continuing the run, notifications and cleanup: whatever is due. */
  async alarm(): Promise<void> {
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
    // Each open request on its own: its deadline, reminders, escalation (the state is read again
    // for each: an expiry before it may have changed it).
    for (const open of this.store.openRequests()) await followUp(this.store, this.env, this.store.run()!.state, open, now);
    await this.continueAndRegister();
    await this.settle();
  }

  /** Sends what the outbox holds, brings the index up to date, and sets the alarm for what is next. */
  async settle(): Promise<void> {
    const { state } = this.store.run()!;
    await deliverDue(this.store, this.env, state.executionId, state.ensemble, Date.now());
    await this.syncIndex();
    await this.schedule();
  }

  /**
   * Brings this execution's row in the D1 index up to date when it lags. A failed write is tried
   * again by the alarm (INDEX_RETRY_MS later); the object stays the source of truth meanwhile.
   */
  async syncIndex(): Promise<void> {
    const db = this.env.DB;
    if (!db || !this.store.exists()) return;
    const { version, indexed } = this.store.indexVersions();
    if (indexed >= version) return;
    const run = this.store.run()!;
    try {
      await writeExecution(db, rowOfObject(run, this.store.openRequests(), version), this.store.requestTimes());
      this.store.markIndexed(version);
      // A newer version may have come (and its write failed) meanwhile: it must stay covered.
      this.armIndexRetry();
    } catch (e) {
      this.store.setIndexRetry(Date.now() + INDEX_RETRY_MS);
      log('index-write-failed', { executionId: run.state.executionId, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /**
   * Sets the alarm to the earliest due time (`soon` forces an immediate one). With `grace`, not
   * earlier than that from now: `soon()` is about to do what is due, and the alarm only steps in
   * if this instance goes away first (so the two do not race for the same work).
   */
  async schedule(soon?: number, grace = 0): Promise<void> {
    const due = [this.store.nextDue(), soon].filter((t): t is number => t !== undefined);
    const run = this.store.exists() ? this.store.run()! : undefined;
    // Running, or a request closed whose result the run has not taken in yet: due now.
    if (run && (run.state.status === 'running' || (run.state.status === 'suspended' && takeResults(this.store, run.state, Date.now()).changed))) due.push(Date.now());
    if (due.length) await this.ctx.storage.setAlarm(Math.max(Math.min(...due), Date.now() + grace));
    else await this.ctx.storage.deleteAlarm();
  }

  /** If this instance goes away before the index is written, the alarm writes it (soon, not at expiry). */
  private armIndexRetry(): void {
    const { version, indexed } = this.store.indexVersions();
    if (indexed < version) this.store.setIndexRetry(Date.now() + INDEX_RETRY_MS);
  }

  /**
   * What is due right after a request: continue a run a decision just released, send what the
   * outbox holds, write the index. Not awaited by the caller; the alarm (always set before) does
   * the same if this instance goes away first.
   */
  private soon(): void {
    const work = (async () => {
      // After the answer has gone out, not before: the caller waits for nothing of this.
      await new Promise((r) => setTimeout(r, 0));
      await this.continueAndRegister();
      const run = this.store.run();
      if (!run) return;
      // Side by side: the index never waits for a slow notification endpoint.
      await Promise.all([deliverDue(this.store, this.env, run.state.executionId, run.state.ensemble, Date.now()), this.syncIndex()]);
      await this.schedule();
    })().catch((e) => log('after-commit-failed', { error: e instanceof Error ? e.message : String(e) }, 'warn'));
    this.ctx.waitUntil(work);
  }

  /**
   * Continues the run if it is due to, then registers its new waits for events with their event
   * boxes; a wait handed a kept event lets the run go on again (and may wait anew).
   */
  private async continueAndRegister(): Promise<void> {
    for (let pass = 0; pass < LIMITS.openRequests + 2; pass++) {
      await this.continueIfRunning();
      if (!(await registerWaits(this.store, this.env, Date.now()))) return;
    }
    // A loop of waits each handed a kept event at once: the rest is the alarm's, right away
    // (`schedule` sees a closed request whose result the run has not taken in).
  }

  /**
   * Continues a run that is due to (running, or a request it waits on has closed), once at a time
   * in this instance: a decision that lands while it goes on is taken in by that same continuation.
   */
  private async continueIfRunning(): Promise<void> {
    const run = this.store.run();
    if (!run || (run.state.status !== 'running' && !(run.state.status === 'suspended' && takeResults(this.store, run.state, Date.now()).changed))) return;
    this.continuing ??= this.continueRun().finally(() => (this.continuing = undefined));
    await this.continuing;
  }

  private async continueRun(): Promise<void> {
    // Decisions may land while the run goes on (other branches, other items): each pass takes in
    // every result closed so far, and one more pass follows when some landed meanwhile.
    for (let pass = 0; pass < LIMITS.openRequests + 2; pass++) {
      const again = await this.continueOnce();
      if (!again) return;
    }
  }

  /** One walk of the tree from the stored state; true when results landed meanwhile. */
  private async continueOnce(): Promise<boolean> {
    const run = this.store.run()!;
    const taken = takeResults(this.store, run.state, Date.now());
    if (taken.state.status !== 'running') return false;
    // The watchdog re-runs a step whose isolate died mid-way, but not forever: a step that kills
    // its isolate every time would otherwise repeat its side effect on every alarm. Progress is
    // counted in records: the same count again means the same step again.
    const tries = this.store.noteResume(taken.state.steps.filter((r) => r.status !== 'suspended').length);
    if (tries > LIMITS.resumeAttempts) {
      this.end({ ...taken.state, status: 'failed', error: { code: 'RESUME_EXHAUSTED', message: `the run was interrupted ${tries - 1} times at the same point and is not tried again (its side effects may have happened)` } }, Date.now());
      return false;
    }
    // Saved as running first: an operator's cancel waits for this walk (it would otherwise be
    // written over), and so does another instance's.
    this.store.saveState(taken.state, Date.now());
    await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
    let state: RunState;
    try {
      // The run's own definition, compiled from the source stored with it: not the registry of
      // ensembles/, so a broken file there (or a deploy) does not touch runs already under way.
      const ensemble = compileDefinition({ file: run.file, source: run.source, hash: run.hash, library: run.library }, scripts, stepKinds);
      state = await advance(ensemble, taken.state, {
        env: this.env,
        scripts,
        kinds: stepKinds,
        secrets: runSecrets(this.env),
        // A checkpoint keeps the results that landed meanwhile too.
        checkpoint: async (s, changes) => {
          const taken = takeResults(this.store, s, Date.now());
          // Results taken in change records anywhere in the list: then it is compared whole.
          this.store.saveState(taken.state, Date.now(), taken.changed ? undefined : changes);
        },
      });
    } catch (e) {
      state = { ...taken.state, status: 'failed', error: { code: 'RESUME_FAILED', message: e instanceof Error ? e.message : String(e) } };
    }
    const now = Date.now();
    this.closeByFlow(state.closed ?? [], now);
    if (state.status === 'suspended') {
      // The new waits (another branch, the next item) are prepared first (sealing and hashing
      // their links awaits), then the state and their requests are written in one synchronous
      // block: no crash can leave a step waiting on a request that was never opened. Meanwhile the
      // stored state is the last checkpoint, running (a cancel waits), with the waits to open.
      const prepared = await prepareRequests(this.env, unopened(this.store, state), now);
      // Results that landed during the walk: the run is due to go on again.
      const landed = takeResults(this.store, state, Date.now());
      commitRequests(this.store, prepared, { ...landed.state, closed: [], status: landed.changed ? 'running' : 'suspended' }, now);
      return landed.changed;
    }
    this.end(state, now);
    return false;
  }

  /** Requests the flow no longer waits on (a parallel `any` was won, a branch beside them failed). */
  private closeByFlow(paths: readonly string[], now: number): void {
    for (const path of paths) {
      const request = this.store.openRequestAt(path);
      if (request) closeRequestByFlow(this.store, request, now, 'flow');
    }
  }

  /** The run ended: saved, audited, and whatever still waits closed. */
  private end(state: RunState, now: number): void {
    finishRun(this.store, this.env, { ...state, suspensions: [], closed: [] }, now);
    for (const request of this.store.openRequests()) closeRequestByFlow(this.store, request, now, 'run ended');
  }
}

import { AppError, StepError } from '../errors';
import type { CompiledNode, CompiledStep, ControlNode, Ensemble } from '../ensemble/ensemble';
import type { NodeType } from '../ensemble/nodes';
import { renderTemplate, type Template } from '../expression/template';
import { LIMITS, jsonBytes } from '../limits';
import { redact } from '../secrets';
import { Frame, frameScope, type Records } from './frame';
import { nodeHandlers } from './nodes';
import { pathOf, type NodeRecord, type RunError, type RunState, type StepRecord } from './run-state';
import { errorMessage, runStep, shapeUp, type EngineDeps } from './step';
import { StateSize } from './state-size';

export type { EngineDeps } from './step';

/**
 * What running a node (or a list) came to: its output; waiting (an approval is open below it);
 * failed (the error of the step that failed, by path); or stopped (the flow cancelled it).
 */
export type Outcome =
  // `at`: when it finished, as its last step's record says (a decision's time, for a step that waited).
  | { kind: 'done'; output: unknown; at?: number }
  | { kind: 'blocked' }
  | { kind: 'failed'; error: RunError }
  | { kind: 'stopped' };

export const done = (output: unknown, at?: number): Outcome => ({ kind: 'done', output, ...(at === undefined ? {} : { at }) });

/**
 * The interpreter: walks the ensemble's tree from the top with the run's records, skips what has
 * finished (a step's record, a control node's record), and runs what can run, until every branch
 * is done or waits. Records carry every choice made (which way a branch went, a foreach's items,
 * a while's iterations), so walking again after a decision takes the same ways. Returns the new
 * state; the input state is not modified.
 */
export async function advance(ensemble: Ensemble, initial: RunState, deps: EngineDeps): Promise<RunState> {
  // Records are never changed once kept (a change keeps a new one): the new state shares them.
  const state: RunState = { ...initial, steps: [...initial.steps], nodes: { ...initial.nodes }, suspensions: [...(initial.suspensions ?? [])], closed: [...(initial.closed ?? [])] };
  return new Run(ensemble, state, deps).go();
}

export class Run implements Records {
  private readonly byPath = new Map<string, StepRecord>();
  readonly whiles: ReadonlySet<string>;
  private readonly secrets: readonly string[];

  readonly size: StateSize;

  constructor(readonly ensemble: Ensemble, readonly state: RunState, readonly deps: EngineDeps) {
    for (const r of state.steps) this.byPath.set(pathOf(r), r);
    this.whiles = new Set(collectWhiles(ensemble.body));
    this.secrets = deps.secrets ?? [];
    this.size = new StateSize(state);
    this.changes = { stepsFrom: state.steps.length, nodes: new Set(), whole: false };
  }

  /** What changed since the last checkpoint (`whole`: a record was replaced in the list). */
  private readonly changes: { stepsFrom: number; nodes: Set<string>; whole: boolean };

  step(path: string): StepRecord | undefined {
    return this.byPath.get(path);
  }

  node(path: string): NodeRecord | undefined {
    return Object.hasOwn(this.state.nodes!, path) ? this.state.nodes![path] : undefined;
  }

  /** Every record of the run: steps and control nodes (each counts toward `stepExecutions`). */
  private records(): number {
    return this.byPath.size + this.size.nodeCount;
  }

  /**
   * Keeps a control node's record: a new object each time (a stored record is never changed in
   * place). A record that would take the state over its limit is kept as failed, without its
   * large values (`STATE_TOO_LARGE`); false then.
   */
  setNode(path: string, rec: NodeRecord): boolean {
    let ok = true;
    const total = this.size.withNode(path, rec);
    if (total > LIMITS.stateBytes) {
      ok = false;
      rec = { type: rec.type, status: 'failed', startedAt: rec.startedAt, error: { step: path, code: 'STATE_TOO_LARGE', message: `the run's state would be ${total} bytes with the record of '${path}' (limit ${LIMITS.stateBytes})` } };
    }
    // Own properties only, read with hasOwn: no path (`constructor`) meets an inherited member.
    Object.defineProperty(this.state.nodes!, path, { value: rec, enumerable: true, writable: true, configurable: true });
    this.size.nodeSet(path, rec);
    this.changes.nodes.add(path);
    return ok;
  }

  /** The node's record with `patch` applied; false (and the node failed) if it no longer fits. */
  patchNode(path: string, patch: Partial<NodeRecord>): boolean {
    return this.setNode(path, { ...this.node(path)!, ...patch });
  }

  async go(): Promise<RunState> {
    const state = this.state;
    state.status = 'running';
    // Waits still to open as requests, and waiting steps whose requests are still to close: kept
    // (a checkpoint may have saved them before the object could act on them); the object empties
    // both lists in the commit that acts on them.
    state.suspensions ??= [];
    state.closed ??= [];
    delete state.cursor;
    delete state.suspension;
    const outcome = await this.list(this.ensemble.body, Frame.root());
    if (outcome.kind === 'blocked') {
      state.status = 'suspended';
      return state;
    }
    if (outcome.kind === 'failed') return this.fail(outcome.error);
    if (outcome.kind === 'stopped') return this.fail({ code: 'STOPPED', message: 'the run was stopped' });
    return this.finish();
  }

  /** A list runs in order; its output is the last node's. */
  async list(nodes: readonly CompiledNode[], frame: Frame): Promise<Outcome> {
    let last: Outcome = done(null);
    for (const node of nodes) {
      last = await this.run(node, frame);
      if (last.kind !== 'done') return last;
    }
    return last;
  }

  /** One node: what its record says if it finished, else run it (a step, or its type's handler). */
  async run(node: CompiledNode, frame: Frame): Promise<Outcome> {
    if (frame.stop.stopped) return { kind: 'stopped' };
    if (node.type === 'step') return this.runStep(node, frame);
    const path = frame.path(node.segment);
    const rec = this.node(path);
    if (rec && rec.status !== 'running') return outcomeOf(rec, path);
    if (!rec) {
      // A control node is a record too: nested loops over nothing but control nodes count.
      const limit = this.limitReached(path);
      if (limit) return limit;
      if (node.condition) {
        const run = this.evaluate(node.condition, frame, path, 'condition');
        if (!run.ok) return this.nodeFailed(path, node.type, run.error);
        if (!run.value) {
          this.setNode(path, { type: node.type, status: 'skipped', output: null, startedAt: new Date().toISOString() });
          return done(null);
        }
      }
      this.setNode(path, { type: node.type, status: 'running', startedAt: new Date().toISOString() });
    }
    const handler = nodeHandlers[node.type] as (node: ControlNode, frame: Frame, run: Run, path: string) => Promise<Outcome>;
    const outcome = await handler(node, frame, this, path);
    // The handler may have failed the record itself (its items did not fit).
    if (this.node(path)!.status === 'failed') return outcomeOf(this.node(path)!, path);
    if (outcome.kind === 'done') {
      if (!this.patchNode(path, { status: 'completed', output: redact(outcome.output, this.secrets) })) return outcomeOf(this.node(path)!, path);
    } else if (outcome.kind === 'failed') this.patchNode(path, { status: 'failed', error: outcome.error });
    else if (outcome.kind === 'stopped') this.patchNode(path, { status: 'cancelled' });
    return outcome;
  }

  /** STEP_LIMIT when the run already holds `stepExecutions` records (steps and control nodes). */
  private limitReached(path: string): Outcome | undefined {
    const n = this.records();
    if (n < LIMITS.stepExecutions) return undefined;
    return { kind: 'failed', error: { step: path, code: 'STEP_LIMIT', message: `the run has executed ${n} steps and control nodes (limit ${LIMITS.stepExecutions}): '${path}' is not run` } };
  }

  private nodeFailed(path: string, type: NodeType, error: RunError): Outcome {
    this.setNode(path, { type, status: 'failed', error, startedAt: new Date().toISOString() });
    return { kind: 'failed', error };
  }

  /** Evaluates one of a node's expressions in `frame`; an error is the node's failure, with a code. */
  evaluate(template: Template, frame: Frame, path: string, what: string): { ok: true; value: unknown } | { ok: false; error: RunError } {
    try {
      return { ok: true, value: renderTemplate(template, frameScope(this.ensemble, this.state, this.deps.env, frame, this), undefined, what) };
    } catch (e) {
      return { ok: false, error: { step: path, code: e instanceof AppError ? e.code : 'EXPRESSION_ERROR', message: `${what} of '${path}': ${errorMessage(e)}` } };
    }
  }

  private async runStep(step: CompiledStep, frame: Frame): Promise<Outcome> {
    const path = frame.path(step.segment);
    const known = this.byPath.get(path);
    if (known) return stepOutcome(known, step, path);
    const limit = this.limitReached(path);
    if (limit) return limit;
    const result = await runStep(this.ensemble, step, path, frame, this.state, this, this.deps);
    // Cancelled by the flow while it ran (a parallel `any` was won): its result is not kept.
    if (frame.stop.stopped) return { kind: 'stopped' };
    let { record, suspend } = shapeUp(result, this.secrets, this.size, step.name);
    if (suspend && record.status === 'failed') suspend = undefined;
    if (suspend && this.waiting() >= LIMITS.openRequests) {
      suspend = undefined;
      record = { ...record, status: 'failed', output: null, error: { code: 'TOO_MANY_OPEN_REQUESTS', message: `the run already waits on ${LIMITS.openRequests} approvals (limit): step '${path}' cannot open another` } };
    }
    this.keep(record);
    if (suspend) {
      this.state.suspensions!.push({ step: path, request: suspend });
      return { kind: 'blocked' };
    }
    const saved = await this.checkpoint(path);
    if (!saved.ok) return { kind: 'failed', error: saved.error };
    return stepOutcome(record, step, path);
  }

  private waiting(): number {
    let n = 0;
    for (const r of this.byPath.values()) if (r.status === 'suspended') n++;
    return n;
  }

  /** Keeps a step's record (replacing one at the same path: a step run again after an interruption). */
  keep(record: StepRecord): void {
    const path = pathOf(record);
    if (this.byPath.has(path)) {
      this.state.steps = this.state.steps.filter((r) => pathOf(r) !== path);
      this.changes.whole = true;
    }
    this.state.steps.push(record);
    this.byPath.set(path, record);
    this.size.kept(record);
  }

  private async checkpoint(path: string): Promise<{ ok: true } | { ok: false; error: RunError }> {
    if (!this.deps.checkpoint) return { ok: true };
    try {
      // Taken before the save awaits: branches running meanwhile add to the next one.
      const { stepsFrom, nodes, whole } = this.changes;
      const changes = whole ? undefined : { stepsFrom, nodes: new Set(nodes) };
      Object.assign(this.changes, { stepsFrom: this.state.steps.length, whole: false });
      nodes.clear();
      await this.deps.checkpoint(this.state, changes);
      return { ok: true };
    } catch (e) {
      // The step ran (its side effect happened) but cannot be recorded: fail the run rather than
      // let a watchdog run the step again.
      return { ok: false, error: { step: path, code: 'CHECKPOINT_FAILED', message: `the run could not be saved after step '${path}': ${errorMessage(e)}` } };
    }
  }

  /**
   * Closes what waits below `prefix` (a branch the flow cancelled): waiting steps become
   * `cancelled` and their requests are for the object to close; running control nodes too.
   */
  cancelUnder(prefix: string): void {
    const within = (p: string) => p === prefix || p.startsWith(`${prefix}/`) || p.startsWith(`${prefix}[`);
    for (const r of this.byPath.values()) {
      const path = pathOf(r);
      if (r.status !== 'suspended' || !within(path)) continue;
      this.keep({ ...r, status: 'cancelled', output: null });
      this.state.closed!.push(path);
    }
    this.state.suspensions = this.state.suspensions!.filter((s) => !within(s.step));
    for (const [path, rec] of Object.entries(this.state.nodes!)) if (rec.status === 'running' && within(path)) this.patchNode(path, { status: 'cancelled' });
  }

  private fail(error: RunError): RunState {
    // Whatever still waits ends with the run.
    for (const r of [...this.byPath.values()]) if (r.status === 'suspended') { this.keep({ ...r, status: 'cancelled', output: null }); this.state.closed!.push(pathOf(r)); }
    for (const [path, rec] of Object.entries(this.state.nodes!)) if (rec.status === 'running') this.patchNode(path, { status: 'cancelled' });
    this.state.status = 'failed';
    this.state.error = redact(error, this.secrets);
    this.state.suspensions = [];
    return this.state;
  }

  private finish(): RunState {
    const state = this.state;
    try {
      const scope = frameScope(this.ensemble, state, this.deps.env, Frame.root(), this);
      let rendered: unknown;
      if (this.ensemble.responses) {
        // Output blocks: the first whose `when` holds gives the output and the HTTP answer.
        const block = this.ensemble.responses.find((b) => !b.when || renderTemplate(b.when, scope, undefined, 'output.when'));
        rendered = block ? renderTemplate(block.body, scope, undefined, 'output.body') : null;
        if (block) state.response = { status: block.status, ...(block.headers ? { headers: responseHeaders(redact(renderTemplate(block.headers, scope, undefined, 'output.headers'), this.secrets)) } : {}) };
      } else {
        rendered = this.ensemble.output
          ? renderTemplate(this.ensemble.output, scope, undefined, 'output')
          : Object.fromEntries(state.steps.filter((r) => r.status === 'completed' && !pathOf(r).includes('/')).map((r) => [r.name, r.output]));
      }
      const output = redact(rendered, this.secrets);
      const bytes = jsonBytes(output);
      if (bytes > LIMITS.stepOutputBytes) throw new StepError('OUTPUT_TOO_LARGE', `the run's output is ${bytes} bytes (limit ${LIMITS.stepOutputBytes})`);
      state.output = output;
      state.status = 'completed';
    } catch (e) {
      state.status = 'failed';
      state.error = redact({ code: e instanceof AppError ? e.code : 'OUTPUT_FAILED', message: `output: ${errorMessage(e)}` }, this.secrets);
    }
    return state;
  }
}

/** An output block's headers as rendered: text values only, each a valid header (a problem fails the run's output). */
function responseHeaders(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new StepError('OUTPUT_HEADERS', 'headers are a mapping of names to text');
  const out: Record<string, string> = {};
  if (Object.keys(value).length > 32) throw new StepError('OUTPUT_HEADERS', 'an output block sets at most 32 headers');
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    const text = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    if (text === undefined) throw new StepError('OUTPUT_HEADERS', `header '${k}' is not text`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(text) || text.length > 4096) throw new StepError('OUTPUT_HEADERS', `header '${k}' holds a line break or another control character, or is over 4096 characters`);
    Object.defineProperty(out, k, { value: text, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** What a finished step's record means for the list it is in. */
function stepOutcome(r: StepRecord, step: CompiledStep, path: string): Outcome {
  const at = Date.parse(r.startedAt) + r.durationMs;
  switch (r.status) {
    case 'completed': return done(r.output ?? null, at);
    case 'skipped': return done(null, at);
    case 'suspended': return { kind: 'blocked' };
    case 'cancelled': return { kind: 'stopped' };
    case 'failed': return step.onError === 'continue' ? done(null, at) : { kind: 'failed', error: { step: path, code: r.error?.code ?? 'STEP_FAILED', message: r.error?.message ?? 'the step failed' } };
  }
}

function outcomeOf(rec: NodeRecord, path: string): Outcome {
  switch (rec.status) {
    case 'completed': return done(rec.output ?? null);
    case 'skipped': return done(null);
    case 'failed': return { kind: 'failed', error: rec.error ?? { step: path, code: 'FAILED', message: `'${path}' failed` } };
    case 'cancelled': return { kind: 'stopped' };
    case 'running': return { kind: 'blocked' };
  }
}

function collectWhiles(nodes: readonly CompiledNode[], into: string[] = []): string[] {
  for (const n of nodes) {
    if (n.type === 'step') continue;
    if (n.type === 'while') into.push(n.id);
    for (const list of childLists(n)) collectWhiles(list, into);
  }
  return into;
}

/** Every child list of a control node. */
export function childLists(n: ControlNode): CompiledNode[][] {
  switch (n.type) {
    case 'parallel': return [n.branches];
    case 'sequence': return [n.steps];
    case 'branch': return [n.then, n.else];
    case 'switch': return [...n.cases.map(([, l]) => l), n.default];
    case 'foreach': return [n.body];
    case 'while': return [n.body];
    case 'try': return [n.body, n.catch, n.finally];
    case 'map-reduce': return [n.map, n.reduce];
  }
}

/** Marks a waiting step as finished with `output` (its request closed), or failed with `error`. */
export function completeWaitingStep(state: RunState, path: string, at: Date, result: { output: unknown } | { error: { code: string; message: string } }): RunState {
  // A new record (records are never changed in place); the others are shared.
  const steps = state.steps.map((r) => {
    if (pathOf(r) !== path) return r;
    const durationMs = at.getTime() - Date.parse(r.startedAt);
    return 'output' in result ? { ...r, status: 'completed' as const, output: result.output, durationMs } : { ...r, status: 'failed' as const, output: null, error: result.error, durationMs };
  });
  return { ...state, steps, suspension: undefined, status: 'running' };
}

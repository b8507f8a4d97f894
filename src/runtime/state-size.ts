import { jsonBytes } from '../limits';
import { pathOf, type NodeRecord, type RunState, type StepRecord } from './run-state';

// The size of a run's state as stored (its JSON in UTF-8), checked whenever a record is kept. A
// record is never changed once kept (a change keeps a new one), so each is measured once and the
// totals move by the difference: measuring the whole state after each of 10,000 steps and
// control nodes would be quadratic.

const recordBytes = new WeakMap<object, number>();
const once = (value: object): number => {
  let n = recordBytes.get(value);
  if (n === undefined) {
    n = jsonBytes(value);
    recordBytes.set(value, n);
  }
  return n;
};

/** `"path":record`, as one entry of the `nodes` object. */
const nodeEntryBytes = (path: string, rec: NodeRecord) => jsonBytes(path) + 1 + once(rec);

/** What one wait adds: its entry in `suspensions`. */
export type Wait = { step: string; request: unknown };

/**
 * The running size of one run's state. The Run tells it each record it keeps (`kept`, `nodeSet`);
 * `withStep` and `withNode` say what the total would be with one more.
 */
export class StateSize {
  private readonly steps = new Map<string, number>();
  private stepsTotal = 0;
  private readonly nodes = new Map<string, number>();
  private nodesTotal = 0;

  constructor(private readonly state: RunState) {
    for (const r of state.steps) this.kept(r);
    for (const [path, rec] of Object.entries(state.nodes ?? {})) this.nodeSet(path, rec);
  }

  kept(record: StepRecord): void {
    const path = pathOf(record);
    const n = once(record);
    this.stepsTotal += n - (this.steps.get(path) ?? 0);
    this.steps.set(path, n);
  }

  get nodeCount(): number {
    return this.nodes.size;
  }

  nodeSet(path: string, rec: NodeRecord): void {
    const n = nodeEntryBytes(path, rec);
    this.nodesTotal += n - (this.nodes.get(path) ?? 0);
    this.nodes.set(path, n);
  }

  /** The total with `record` kept at its path (replacing one there), and `wait` to open. */
  withStep(record: StepRecord, wait?: Wait): number {
    const path = pathOf(record);
    const replaced = this.steps.get(path);
    const count = this.steps.size + (replaced === undefined ? 1 : 0);
    return this.head(wait) + this.stepsTotal - (replaced ?? 0) + once(record) + count - 1 + this.nodesPart();
  }

  /** The total with `rec` as the record of the node at `path`. */
  withNode(path: string, rec: NodeRecord): number {
    const replaced = this.nodes.get(path);
    const count = this.nodes.size + (replaced === undefined ? 1 : 0);
    const nodes = 11 + this.nodesTotal - (replaced ?? 0) + nodeEntryBytes(path, rec) + count - 1;
    return this.head() + this.stepsTotal + Math.max(0, this.steps.size - 1) + nodes;
  }

  /** `,"nodes":{...}` as it is now. */
  private nodesPart(): number {
    return 11 + this.nodesTotal + Math.max(0, this.nodes.size - 1);
  }

  private head(wait?: Wait): number {
    return headBytes(this.state, wait);
  }
}

/**
 * The JSON size of `state` with these `steps` (and a wait), as stored, measured from scratch.
 * Exact but for the digits of the cursor and the status word, which may differ from when the
 * input was first sized.
 */
export function stateBytes(state: RunState, steps: StepRecord[], wait?: Wait): number {
  const nodes = Object.entries(state.nodes ?? {});
  const nodesPart = state.nodes === undefined ? 0 : 11 + nodes.reduce((n, [path, rec]) => n + nodeEntryBytes(path, rec), 0) + Math.max(0, nodes.length - 1);
  return headBytes(state, wait) + steps.reduce((sum, r) => sum + once(r), 0) + Math.max(0, steps.length - 1) + nodesPart;
}

const baseBytes = new WeakMap<object, number>();

/** Everything but the step and node records (`"steps":[]` included), each wait counted once. */
function headBytes(state: RunState, wait?: Wait): number {
  const rest = { ...state, steps: [], nodes: undefined, suspensions: undefined, closed: undefined };
  let base = state.input !== null && typeof state.input === 'object' ? baseBytes.get(state.input) : undefined;
  if (base === undefined) {
    base = jsonBytes(rest);
    if (state.input !== null && typeof state.input === 'object') baseBytes.set(state.input, base);
  }
  // Each as the `,"key":value` it adds to the stored JSON.
  const waits = wait ? [...(state.suspensions ?? []), wait] : state.suspensions;
  const waitsPart = waits === undefined ? 0 : 17 + waits.reduce((n, w) => n + once(w), 0) + Math.max(0, waits.length - 1);
  const closedPart = state.closed === undefined ? 0 : jsonBytes({ closed: state.closed }) - 1;
  return base + waitsPart + closedPart;
}

import type { Ensemble, NodePlace } from '../ensemble/ensemble';
import type { Env } from '../env';
import type { Scope } from '../expression/compile';
import type { ExecutionInfo, StepView } from './context';
import type { NodeRecord, RunState, StepRecord } from './run-state';
import { publicEnv } from './public-env';

/** Set when a subtree is cancelled by the flow (a parallel `any` was won): its steps stop where they are. */
export interface StopSignal {
  stopped: boolean;
}

/**
 * Where a node runs: the path prefix of its children, the index of every loop around it (by loop
 * id), the frame variables (`item`, `index`, `error`, `results`), and its stop signal. Frames are
 * immutable; a control node makes its children's.
 */
export class Frame {
  constructor(
    readonly prefix: string,
    readonly indices: ReadonlyMap<string, number>,
    readonly vars: Readonly<Record<string, unknown>>,
    readonly stop: StopSignal,
  ) {}

  static root(): Frame {
    return new Frame('', new Map(), {}, { stopped: false });
  }

  path(segment: string): string {
    return `${this.prefix}${segment}`;
  }

  /** The frame of a node's children (`reviews/`). */
  under(segment: string, vars: Record<string, unknown> = {}, stop = this.stop): Frame {
    return new Frame(`${this.prefix}${segment}/`, this.indices, { ...this.vars, ...vars }, stop);
  }

  /** The frame of one iteration of a loop (`per-invoice[2]/`). */
  iteration(segment: string, loop: string, index: number, vars: Record<string, unknown> = {}, stop = this.stop): Frame {
    const indices = new Map(this.indices).set(loop, index);
    return new Frame(`${this.prefix}${segment}[${index}]/`, indices, { ...this.vars, index, ...vars }, stop);
  }

  /** The same place, with more variables in scope. */
  withVars(vars: Record<string, unknown>): Frame {
    return new Frame(this.prefix, this.indices, { ...this.vars, ...vars }, this.stop);
  }

  with(stop: StopSignal): Frame {
    return new Frame(this.prefix, this.indices, this.vars, stop);
  }
}

/** What the run knows by path, for reading names: step records and control node records. */
export interface Records {
  step(path: string): StepRecord | undefined;
  node(path: string): NodeRecord | undefined;
  /** Loops that are `while` loops (their bodies read the previous iteration of a later step). */
  whiles: ReadonlySet<string>;
}

/** The path of a named node as seen from `frame` (its loops at the frame's current indices). */
export function resolvePath(place: NodePlace, frame: Frame, shift?: string): string | undefined {
  const segments: string[] = [];
  const last = place.parts.length - 1;
  for (let i = 0; i <= last; i++) {
    const part = place.parts[i]!;
    if (part.loop === undefined || i === last) { segments.push(part.segment); continue; }
    const index = frame.indices.get(part.loop);
    if (index === undefined) return undefined;
    segments.push(`${part.segment}[${part.loop === shift ? index - 1 : index}]`);
  }
  return segments.join('/');
}

const notRun: StepView = { status: 'pending', input: null, output: null, error: null, executed: false, success: false };

/** The view of a named node from `frame`: its record (this iteration's, or in a while the last one's), or not-run. */
export function viewOf(place: NodePlace, frame: Frame, records: Records): StepView {
  const tryAt = (shift?: string): StepView | undefined => {
    const path = resolvePath(place, frame, shift);
    if (path === undefined) return undefined;
    const step = records.step(path);
    if (step) return stepView(step);
    const node = records.node(path);
    return node ? nodeView(node) : undefined;
  };
  const here = tryAt();
  if (here) return here;
  // Inside a while, a body step that has not run in this iteration yet reads the previous one.
  const innermostWhile = [...place.loops].reverse().find((l) => records.whiles.has(l) && (frame.indices.get(l) ?? 0) > 0);
  return (innermostWhile !== undefined ? tryAt(innermostWhile) : undefined) ?? notRun;
}

export function stepView(r: StepRecord): StepView {
  return {
    status: r.status,
    input: r.input,
    output: r.output,
    error: r.error ?? null,
    // Ran (not skipped by its condition); completed without an error.
    executed: r.status !== 'skipped',
    success: r.status === 'completed' && !r.error,
  };
}

function nodeView(r: NodeRecord): StepView {
  return {
    status: r.status === 'running' ? 'pending' : r.status,
    input: null,
    output: r.output ?? null,
    error: r.error ? { code: r.error.code, message: r.error.message } : null,
    executed: r.status !== 'skipped',
    success: r.status === 'completed',
  };
}

export const executionInfo = (state: RunState): ExecutionInfo => ({
  id: state.executionId,
  ensemble: state.ensemble,
  startedAt: state.startedAt,
});

/**
 * The scope of an expression evaluated in `frame`: frame variables, `input`, `env`, `execution`,
 * and every named node by name (this iteration's, inside a loop).
 */
export function frameScope(ensemble: Ensemble, state: RunState, env: Env, frame: Frame, records: Records): Scope {
  const roots: Record<string, unknown> = { input: state.input, env: publicEnv(env), execution: executionInfo(state) };
  return (name) => {
    if (Object.hasOwn(frame.vars, name)) return frame.vars[name];
    if (Object.hasOwn(roots, name)) return roots[name];
    const place = ensemble.names.get(name);
    return place ? viewOf(place, frame, records) : undefined;
  };
}

/**
 * Every named node as a script sees it (`ctx.steps`), from `frame`: looked up when read, so a
 * step of a long run does not build the views of every step before it.
 */
export function viewsFrom(ensemble: Ensemble, frame: Frame, records: Records): Record<string, StepView> {
  // Each view is the script's own copy (made once per name): a script that changes what it reads
  // must not change the run's records, which are stored by what they were when kept.
  const copies = new Map<string, StepView | undefined>();
  const view = (name: string | symbol) => {
    if (typeof name !== 'string') return undefined;
    if (copies.has(name)) return copies.get(name);
    const place = ensemble.names.get(name);
    const v = place && viewOf(place, frame, records);
    const copy = v === notRun || v === undefined ? undefined : structuredClone(v as StepView);
    copies.set(name, copy);
    return copy;
  };
  return new Proxy({} as Record<string, StepView>, {
    get: (_t, name) => view(name),
    has: (_t, name) => view(name) !== undefined,
    ownKeys: () => [...ensemble.names.keys()].filter((n) => view(n) !== undefined),
    getOwnPropertyDescriptor: (_t, name) => {
      const v = view(name);
      return v === undefined ? undefined : { value: v, enumerable: true, configurable: true, writable: false };
    },
  });
}

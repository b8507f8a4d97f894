import { z } from 'zod';

/** One step's execution, by its path (`reviews/legal`, `per-invoice[2]/invoice-ok`). */
export const StepRecord = z.object({
  name: z.string(),
  /** Where it ran: its name, under the names of the control nodes around it and loop indices. Runs stored before paths existed have none: their path is the name. */
  path: z.string().optional(),
  /** The library agent it ran, with the version chosen (`review@2`). */
  agent: z.string().optional(),
  status: z.enum(['completed', 'skipped', 'failed', 'suspended', 'cancelled']),
  input: z.unknown(),
  output: z.unknown(),
  startedAt: z.string(),
  durationMs: z.number(),
  attempts: z.number().int().optional(),
  /** Its output came from the step's cache (`cache:`), or from `onTimeout.fallback`. */
  cached: z.boolean().optional(),
  timedOut: z.boolean().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type StepRecord = z.infer<typeof StepRecord>;

export const pathOf = (r: StepRecord) => r.path ?? r.name;

/** A control node's execution: its status, its output, and the choices it made (kept, so a run replays them). */
export const NodeRecord = z.object({
  type: z.string(),
  status: z.enum(['running', 'completed', 'failed', 'skipped', 'cancelled']),
  output: z.unknown().optional(),
  error: z.object({ step: z.string().optional(), code: z.string(), message: z.string() }).optional(),
  /** branch: `then`/`else`; switch: the case taken (`default`); parallel any: the winning branch. */
  taken: z.union([z.string(), z.number()]).optional(),
  /** foreach, map-reduce: the items, evaluated once. */
  items: z.array(z.unknown()).optional(),
  /** foreach: the item after which `breakWhen` stopped it. */
  broke: z.number().int().optional(),
  /** while: iterations started, whether the last one finished, and its output. */
  iteration: z.number().int().optional(),
  iterationDone: z.boolean().optional(),
  last: z.unknown().optional(),
  /** try: the error caught. */
  caught: z.object({ step: z.string().optional(), code: z.string(), message: z.string() }).optional(),
  startedAt: z.string(),
});
export type NodeRecord = z.infer<typeof NodeRecord>;

export const RunError = z.object({ step: z.string().optional(), code: z.string(), message: z.string() });
export type RunError = z.infer<typeof RunError>;

/** What a waiting step asks for, at its path; the HITL object turns it into an approval request. */
export const Suspension = z.object({
  step: z.string(),
  request: z.record(z.string(), z.unknown()),
});
export type Suspension = z.infer<typeof Suspension>;

/**
 * A run between events: everything needed to continue it elsewhere (the interpreter takes one and
 * returns one). Stored as JSON by the HITL object; validated when read back.
 */
export const RunState = z.object({
  executionId: z.string(),
  ensemble: z.string(),
  hash: z.string(),
  input: z.unknown(),
  startedAt: z.string(),
  /** Where the request that started the run came from; the default base of approval links. */
  origin: z.string().optional(),
  /** How it was started, when not by the API: a cron, a webhook, a queue message, an email (src/triggers). */
  trigger: z.object({ type: z.enum(['api', 'cron', 'webhook', 'queue', 'email', 'event']), detail: z.string().optional() }).optional(),
  status: z.enum(['running', 'suspended', 'completed', 'failed', 'cancelled']),
  /** Every step that ran (or waits), in the order they finished. */
  steps: z.array(StepRecord),
  /** Every control node that ran, by path. */
  nodes: z.record(z.string(), NodeRecord).optional(),
  output: z.unknown().optional(),
  /** The HTTP answer an output block chose (`status`, `headers`), when the ensemble has blocks. */
  response: z.object({ status: z.number().int(), headers: z.record(z.string(), z.string()).optional() }).optional(),
  error: RunError.optional(),
  /** Steps that began to wait during the last advance: the requests to open. */
  suspensions: z.array(Suspension).optional(),
  /** Waiting steps the flow closed during the last advance (a parallel `any` won, a branch failed): the requests to close. */
  closed: z.array(z.string()).optional(),
  /** Runs stored before the tree: the index of the next step, and the one suspension. */
  cursor: z.number().int().min(0).optional(),
  suspension: Suspension.optional(),
});
export type RunState = z.infer<typeof RunState>;

/**
 * What a walk changed since its last checkpoint (or since the state it started from, which the
 * caller saved): the step records from `stepsFrom` on (kept since: appended), and the control
 * node records at these paths. Undefined when a record was replaced in the list (save it all).
 */
export interface StateChanges {
  stepsFrom: number;
  nodes: ReadonlySet<string>;
}
export type RunStatus = RunState['status'];

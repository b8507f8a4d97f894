import { z } from 'zod';

export const StepRecord = z.object({
  name: z.string(),
  status: z.enum(['completed', 'skipped', 'failed', 'suspended', 'cancelled']),
  input: z.unknown(),
  output: z.unknown(),
  startedAt: z.string(),
  durationMs: z.number(),
  attempts: z.number().int().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type StepRecord = z.infer<typeof StepRecord>;

export const RunError = z.object({ step: z.string().optional(), code: z.string(), message: z.string() });
export type RunError = z.infer<typeof RunError>;

/** What a suspending agent asks for; the HITL object turns it into an approval request. */
export const Suspension = z.object({
  step: z.string(),
  request: z.record(z.string(), z.unknown()),
});
export type Suspension = z.infer<typeof Suspension>;

/**
 * A run between steps: everything needed to continue it elsewhere (the step loop takes one and
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
  status: z.enum(['running', 'suspended', 'completed', 'failed', 'cancelled']),
  /** Index of the next step to run (or of the suspended step). */
  cursor: z.number().int().min(0),
  steps: z.array(StepRecord),
  output: z.unknown().optional(),
  error: RunError.optional(),
  suspension: Suspension.optional(),
});
export type RunState = z.infer<typeof RunState>;
export type RunStatus = RunState['status'];

import { z } from 'zod';
import { UNITS } from './duration';

/**
 * The ensemble file format. This schema is the source of truth: types are derived from it and
 * `docs/ensemble.schema.json` is generated from it (json-schema.ts; a test keeps the two in sync).
 */


// `__proto__` would name a record the way JavaScript names an object's prototype.
export const StepName = z
  .string()
  .regex(/^(?!__proto__$)[A-Za-z0-9_-]+$/, 'step names use letters, digits, _ and - only (and `__proto__` is reserved)');

/** Every unit parseDuration reads (longest first, so `ms` is not read as `m`), in any case. */
const DURATION_UNITS = Object.keys(UNITS).sort((a, b) => b.length - a.length).join('|');
const anyCase = (source: string) => source.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);

/**
 * A duration string as parseDuration reads it: a number and an optional unit ("500ms", "30s",
 * "24h", "7 days", "90 Minutes"); `positive` also refuses a zero ("0s"). A JSON Schema pattern has
 * no flags, hence the spelt-out cases.
 */
export function durationPattern(positive = false): string {
  const number = positive ? '(\\d*[1-9]\\d*(\\.\\d+)?|\\d+\\.\\d*[1-9]\\d*)' : '\\d+(\\.\\d+)?';
  return `^\\s*${number}\\s*(${anyCase(DURATION_UNITS)})?\\s*$`;
}

/** What an editor says of a value that is no duration (yaml-language-server's `errorMessage`). */
export const notADuration = (unit: 'seconds' | 'milliseconds') =>
  `Not a duration: a number of ${unit}, or a number and a unit such as "30s", "24h" or "7 days".`;

/**
 * Milliseconds as a number, or a string such as "500ms", "30s", "24h", "7 days". The pattern and
 * message are metadata for editors only: the loader judges the string with parseDuration, whose
 * message says how to write one, so what the runtime accepts (and what it says) is unchanged.
 */
export const Duration = z.union([
  z.number().nonnegative(),
  z.string().min(1).meta({ pattern: durationPattern(), errorMessage: notADuration('milliseconds') }),
]);

export const Retry = z.strictObject({
  attempts: z.number().int().min(1).max(10).optional().describe('total attempts, including the first'),
  maxAttempts: z.number().int().min(1).max(10).optional().describe("conductor's docs' spelling of `attempts`"),
  backoff: z.union([Duration, z.enum(['exponential', 'linear', 'fixed'])]).optional()
    .describe('a delay before the 2nd attempt (ms or "1s", doubling after each failure), or how delays grow from `initialDelay`: exponential (doubling), linear, fixed'),
  initialDelay: Duration.optional().describe('the first delay (default 1s) when `backoff` names a strategy'),
  maxDelay: Duration.optional().describe('the longest delay (default and at most 60s)'),
  retryOn: z.array(z.union([z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'an error code in capitals (HTTP_ERROR, TIMEOUT)'), z.number().int().min(100).max(599)])).min(1).max(50).optional()
    .describe('retry only these failures: error codes (HTTP_ERROR, HTTP_TIMEOUT, STEP_TIMEOUT; NETWORK_ERROR and TIMEOUT as conductor names them) or HTTP statuses (503)'),
}).check((ctx) => {
  const r = ctx.value;
  if ((r.attempts === undefined) === (r.maxAttempts === undefined)) ctx.issues.push({ code: 'custom', input: r, message: 'retry needs `attempts` (or `maxAttempts`), once' });
});

export const OnTimeout = z.strictObject({
  fallback: z.unknown().optional().describe('the output the step gives when it times out (may hold `${...}`)'),
  error: z.boolean().optional().describe('true: the step fails with STEP_TIMEOUT (the default without a fallback)'),
});

export const Cache = z.strictObject({
  ttl: z.number().int().min(60).max(30 * 24 * 3600).describe('seconds a result is kept (60 s to 30 days; KV keeps nothing shorter than 60 s)'),
  key: z.string().min(1).optional().describe('what identifies a result (may hold `${...}`); default: the step\'s rendered input and config'),
  bypass: z.union([z.boolean(), z.string()]).optional().describe('true (or an expression that is): run the step and refresh the cache without reading it'),
});

/** `${...}` expression or a literal boolean. */
const Condition = z.union([z.boolean(), z.string()]);

export const Step = z
  .strictObject({
    name: StepName.meta({ description: 'The step name, unique in the file; later steps read its result as `${name.output}`.', examples: ['fetch-order'] }),
    description: z.string().optional(),
    // Which names exist is the table of step kinds' to say (src/kinds.ts): the loader checks it.
    operation: z.string().optional().meta({ description: 'What the step does: code (a script in scripts/), http, think (a model), email, data (D1/KV), storage (KV/R2/queues), transform, html. Exactly one of operation or agent.' }),
    agent: z.string().optional().meta({ description: 'A built-in agent (hitl suspends the run until people approve or reject), or an agent of the library (agents/): `name` or `name@version`.' }),
    condition: Condition.optional().meta({ description: 'Run the step only when this is truthy; otherwise it is skipped (its output is null, `executed` false).', examples: ['${check.output.risky}'] }),
    config: z.record(z.string(), z.unknown()).optional().meta({ description: 'Settings of the operation or agent; values may be `${...}` expressions.' }),
    input: z.unknown().optional().meta({ description: 'The step input (synonym: inputs); values may be `${...}` expressions.' }),
    inputs: z.unknown().optional().meta({ description: 'The step input (synonym: input); values may be `${...}` expressions.' }),
    onError: z.enum(['fail', 'continue']).optional().meta({ description: 'fail: a failing step fails the run; continue: the run goes on and `${step.error}` holds the error.', default: 'fail' }),
    retry: Retry.optional().meta({ description: 'Attempts of an operation step before it fails.' }),
    timeout: Duration.optional().meta({ description: 'An operation step\'s time limit per attempt (ms or "5s"); past it the step fails with STEP_TIMEOUT, or gives `onTimeout.fallback`.' }),
    onTimeout: OnTimeout.optional().meta({ description: 'What a timed-out operation step gives: `{ fallback: <output> }`, or `{ error: true }` (fail).' }),
    cache: Cache.optional().meta({ description: 'Keep an operation step\'s output in KV for `ttl` seconds, keyed by its rendered input and config (or `key`); a later run with the same key gets it without running the step.' }),
  })
  .check((ctx) => {
    const s = ctx.value;
    if ((s.operation === undefined) === (s.agent === undefined)) {
      ctx.issues.push({ code: 'custom', input: s, message: 'a step needs exactly one of `operation` or `agent`' });
    }
    if (s.input !== undefined && s.inputs !== undefined) {
      ctx.issues.push({ code: 'custom', input: s, path: ['inputs'], message: '`input` and `inputs` are synonyms: use one' });
    }
  });

export const inputTypes = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'any'] as const;

export const InputDeclaration = z.strictObject({
  type: z.enum(inputTypes).default('any'),
  required: z.boolean().default(false),
  default: z.unknown().optional(),
  description: z.string().optional(),
  enum: z.array(z.unknown()).min(1).optional(),
});

export const EnsembleFile = z.strictObject({
  ensemble: StepName.optional().describe('the ensemble name; defaults to the file name'),
  description: z.string().optional(),
  version: z.union([z.string(), z.number()]).optional().describe('the version of this ensemble, shown by GET /ensembles/:name'),
  inputs: z
    .record(z.string(), z.union([z.enum(inputTypes), InputDeclaration]))
    .optional()
    .describe('declared run inputs; a run input is validated against them'),
  // Steps and control nodes: each entry is read by the loader (src/ensemble/load-tree.ts), which
  // checks a step against `Step` and a control node against its type's keys (nodes.ts).
  agents: z.array(z.unknown()).min(1, 'an ensemble needs at least one step in `agents`').optional().meta({ description: 'The steps, run in order: each a step (`operation` or `agent`) or a control node (`type: parallel`, ...). With `flow:`, definitions used by the flow (optional when the flow uses only agents of the library).' }),
  // Checked entry by entry by the loader (src/triggers/schema.ts), every problem at once.
  trigger: z.unknown().optional().meta({ description: 'What starts runs besides POST /ensembles/:name: `type: cron` (with timezone), `webhook` (signed), `queue`, `email`. See docs/triggers.md.' }),
  flow: z.array(z.unknown()).optional().meta({ description: "Conductor's spelling: what runs, in order. With `flow:`, `agents:` are definitions, and a flow entry `agent: <definition name>` (with optional `id:`, `input:`, `condition:`, `config:`) runs one; a flow entry may be any control node." }),
  output: z.unknown().optional().describe('evaluated when the run completes'),
}).check((ctx) => {
  if (ctx.value.agents === undefined && ctx.value.flow === undefined) ctx.issues.push({ code: 'custom', input: ctx.value, path: ['agents'], message: "'agents' is required" });
});

export type EnsembleFile = z.infer<typeof EnsembleFile>;
export type StepFile = z.infer<typeof Step>;
export type InputDeclaration = z.infer<typeof InputDeclaration>;


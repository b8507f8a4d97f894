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
  attempts: z.number().int().min(1).max(10).describe('total attempts, including the first'),
  backoff: Duration.optional().describe('delay before the 2nd attempt (ms or "1s"); doubles after each failure'),
});

/** `${...}` expression or a literal boolean. */
const Condition = z.union([z.boolean(), z.string()]);

export const Step = z
  .strictObject({
    name: StepName.meta({ description: 'The step name, unique in the file; later steps read its result as `${name.output}`.', examples: ['fetch-order'] }),
    description: z.string().optional(),
    // Which names exist is the table of step kinds' to say (src/kinds.ts): the loader checks it.
    operation: z.string().optional().meta({ description: 'What the step does: code (a script in scripts/), http, think (a model), email, data (D1/KV). Exactly one of operation or agent.' }),
    agent: z.string().optional().meta({ description: 'A built-in agent: hitl suspends the run until people approve or reject.' }),
    condition: Condition.optional().meta({ description: 'Run the step only when this is truthy; otherwise it is skipped (its output is null, `executed` false).', examples: ['${check.output.risky}'] }),
    config: z.record(z.string(), z.unknown()).optional().meta({ description: 'Settings of the operation or agent; values may be `${...}` expressions.' }),
    input: z.unknown().optional().meta({ description: 'The step input (synonym: inputs); values may be `${...}` expressions.' }),
    inputs: z.unknown().optional().meta({ description: 'The step input (synonym: input); values may be `${...}` expressions.' }),
    onError: z.enum(['fail', 'continue']).optional().meta({ description: 'fail: a failing step fails the run; continue: the run goes on and `${step.error}` holds the error.', default: 'fail' }),
    retry: Retry.optional().meta({ description: 'Attempts of an operation step before it fails.' }),
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
  inputs: z
    .record(z.string(), z.union([z.enum(inputTypes), InputDeclaration]))
    .optional()
    .describe('declared run inputs; a run input is validated against them'),
  // Steps and control nodes: each entry is read by the loader (src/ensemble/load-tree.ts), which
  // checks a step against `Step` and a control node against its type's keys (nodes.ts).
  agents: z.array(z.unknown()).min(1, 'an ensemble needs at least one step in `agents`').meta({ description: 'The steps, run in order: each a step (`operation` or `agent`) or a control node (`type: parallel`, ...).' }),
  flow: z.array(z.unknown()).optional().meta({ description: "Conductor's spelling: what runs, in order. With `flow:`, `agents:` are definitions, and a flow entry `agent: <definition name>` (with optional `id:`, `input:`, `condition:`, `config:`) runs one; a flow entry may be any control node." }),
  output: z.unknown().optional().describe('evaluated when the run completes'),
});

export type EnsembleFile = z.infer<typeof EnsembleFile>;
export type StepFile = z.infer<typeof Step>;
export type InputDeclaration = z.infer<typeof InputDeclaration>;


import type { z } from 'zod';
import { StepError } from '../errors';
import { didYouMean, suggest } from '../ensemble/suggest';
import { plainIssue, valueAt } from '../ensemble/issue-words';
import type { StepContext } from '../runtime/context';
import type { ConfigProblem, LoadContext, StepAsWritten, StepKind } from '../runtime/step-kind';

/**
 * One operation (`operation: http`, ...) as written in its file: its config schema, extra
 * load-time checks, and what it does. `defineOperation` turns it into a step kind.
 */
export interface Operation<S extends z.ZodObject> {
  readonly config: S;
  /** The config as editors see it in the JSON Schema, when it is more precise than `config`. */
  readonly editorSchema?: z.ZodType;
  readonly credentials?: readonly (readonly string[])[];
  readonly destination?: readonly string[];
  /** Config fields whose text is the operation's own template language (`{{ name }}` is theirs). */
  readonly ownTemplates?: readonly (readonly string[])[];
  /** Conductor's config keys this operation does not have, each with what to do instead. */
  readonly conductorKeys?: Readonly<Record<string, string>>;
  /**
   * Extra load-time checks on the static part of the config (e.g. the script exists); `step` tells
   * which keys hold expressions, and how they were written.
   */
  check?(config: Record<string, unknown>, ctx: LoadContext, step: StepAsWritten): ConfigProblem[];
  run(ctx: StepContext<z.infer<S>>): Promise<unknown>;
}

/**
 * An operation as a step kind: its config is checked when the ensemble loads (every static key;
 * keys with expressions when the step runs) and validated before it runs (`INVALID_CONFIG`).
 */
export function defineOperation<S extends z.ZodObject>(op: Operation<S>): StepKind {
  return {
    key: 'operation',
    config: op.config,
    editorSchema: op.editorSchema,
    credentials: op.credentials,
    destination: op.destination,
    ownTemplates: op.ownTemplates,
    retries: true,
    check: (step, ctx) => [...checkConfig(op.config, step, op.conductorKeys), ...(op.check?.(step.config, ctx, step) ?? []).map((p) => ({ ...p, path: ['config', ...p.path] }))],
    async run(ctx) {
      const parsed = op.config.safeParse(ctx.config);
      if (!parsed.success) {
        const summary = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
        throw new StepError('INVALID_CONFIG', `config of step '${ctx.step}' is invalid: ${summary}`, { details: parsed.error.issues });
      }
      const output = await op.run({ step: ctx.step, config: parsed.data, input: ctx.input, env: ctx.env, execution: ctx.execution, steps: ctx.steps, scripts: ctx.scripts });
      return { output: output ?? null };
    },
  };
}

/**
 * The static part of a step's config against the schema: every key without an expression is
 * judged now; keys with one are judged when the step runs, but an unknown key is unknown now.
 */
export function checkConfig(schema: z.ZodObject, step: StepAsWritten, conductorKeys?: Readonly<Record<string, string>>): ConfigProblem[] {
  const known = Object.keys(schema.shape);
  const mask = Object.fromEntries(step.dynamicConfig.filter((k) => known.includes(k)).map((k) => [k, true as const]));
  const unknownDynamic = Object.fromEntries(step.dynamicConfig.filter((k) => !known.includes(k)).map((k) => [k, null]));
  const result = schema.partial(mask as Record<string, true> & Record<number, never>).safeParse({ ...step.config, ...unknownDynamic });
  const problems: ConfigProblem[] = [];
  if (result.success) return problems;
  const written = [...Object.keys(step.config), ...step.dynamicConfig];
  const unknownKey = (key: string) => ({
    path: ['config', key], atKey: true,
    message: conductorKeys && Object.hasOwn(conductorKeys, key)
      ? `'${key}' is a conductor setting of ${step.kind} this runtime does not have: ${conductorKeys[key]}`
      : `unknown config key '${key}' for operation '${step.kind}'${didYouMean(key, known)}`,
  });
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) if (!problems.some((p) => p.path[1] === key)) problems.push(unknownKey(key));
      continue;
    }
    // A required key that is missing because it is misspelt is one mistake: the misspelling,
    // reported at the key written (`scrpit` for `script`), not also "'script' is required".
    const missing = issue.path.length === 1 && valueAt(step.config, issue.path) === undefined ? String(issue.path[0]) : undefined;
    const misspelt = missing && written.find((k) => !known.includes(k) && suggest(k, [missing]) === missing);
    if (misspelt) {
      if (!problems.some((p) => p.path[1] === misspelt)) problems.push(unknownKey(misspelt));
      continue;
    }
    problems.push({ path: ['config', ...(issue.path as (string | number)[])], message: plainIssue(issue, valueAt(step.config, issue.path)) });
  }
  return problems;
}

export type { ConfigProblem, LoadContext } from '../runtime/step-kind';

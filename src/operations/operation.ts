import type { z } from 'zod';
import type { ProblemCode } from '../ensemble/problem';
import type { StepContext } from '../runtime/context';

/** A problem an operation finds in a step's static config at load time. */
export interface ConfigProblem {
  path: (string | number)[];
  message: string;
  /** Point at the key rather than the value (an unknown key). */
  atKey?: boolean;
  /** How the problem is reported; default `config`. */
  code?: Extract<ProblemCode, 'unknown-operation' | 'unknown-script' | 'config'>;
}

export interface LoadContext {
  scripts: ReadonlySet<string>;
}

/**
 * One operation (`operation: http`, ...). `config` validates the evaluated config before `run`;
 * at load time the same schema checks every key whose value has no expression.
 */
export interface Operation<S extends z.ZodObject = z.ZodObject> {
  readonly config: S;
  /** The config as editors see it in the JSON Schema, when it is more precise than `config` (default `config`). */
  readonly editorSchema?: z.ZodType;
  /**
   * Config fields where a secret may be used (`${env.TOKEN}`, verbatim): the ones this operation
   * consumes itself and never records, such as an http step's `url` and `headers.*`.
   */
  readonly credentials?: readonly (readonly string[])[];
  /** The config field that says where those credentials go (its origin must be fixed in the file). */
  readonly destination?: readonly string[];
  /** Extra load-time checks on the static part of the config (e.g. the script exists). */
  check?(config: Record<string, unknown>, ctx: LoadContext): ConfigProblem[];
  run(ctx: StepContext<z.infer<S>>): Promise<unknown>;
}

export function defineOperation<S extends z.ZodObject>(op: Operation<S>): Operation<S> {
  return op;
}

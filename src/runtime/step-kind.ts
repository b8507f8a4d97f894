import type { z } from 'zod';
import type { Env } from '../env';
import type { ProblemCode } from '../ensemble/problem';
import type { WrittenPart } from '../expression/template';
import type { ExecutionInfo, ScriptRegistry, StepView } from './context';

// The contract between the loader, the engine and each kind of step (an operation such as
// `http`, a built-in agent such as `hitl`): a kind declares its config, checks a step when the
// ensemble loads, and runs it. The table of kinds (src/kinds.ts) is handed to the loader and the
// engine; neither imports a kind. "The result is the suspension": a kind that waits for people
// (or events) returns what to wait for instead of an output.

/** A problem a kind finds in a step when the ensemble loads; `path` is inside the step (`config.url`). */
export interface ConfigProblem {
  path: (string | number)[];
  message: string;
  /** Point at the key rather than the value (an unknown key). */
  atKey?: boolean;
  /** How the problem is reported; default `config`. */
  code?: Extract<ProblemCode, 'unknown-operation' | 'unknown-script' | 'config'>;
}

/** What the loader knows besides the file. */
export interface LoadContext {
  /** Script keys available to `operation: code` (`auto-approve` for scripts/auto-approve.ts). */
  scripts: ReadonlySet<string>;
}

/** A step as written, for a kind's load-time check. */
export interface StepAsWritten {
  /** The kind's name as the step writes it (`http`). */
  kind: string;
  /** Config keys whose values are static (no expression), with their values. */
  config: Record<string, unknown>;
  /** Config keys whose values hold an expression (known only when the step runs). */
  dynamicConfig: string[];
  /** Static values of the step's input. */
  input: Record<string, unknown>;
  /** config and input as written, expressions included. */
  written: { config: unknown; input: unknown };
}

/** What a kind's run gets: the step's rendered config and input, and the run around it. */
export interface StepRun {
  step: string;
  config: unknown;
  input: unknown;
  env: Env;
  execution: ExecutionInfo;
  steps: Readonly<Record<string, StepView>>;
  scripts: ScriptRegistry;
  /** Origin of the request that started the run (default base of links). */
  origin?: string;
  /**
   * A credential field of the config (path inside it) as written, when it uses a secret: a kind
   * that stores such a field keeps it as written and completes it only when it is used.
   */
  written: (path: readonly string[]) => WrittenPart[] | undefined;
}

/** A step's result: an output, or what to wait for (the run suspends until it comes). */
export type StepOutcome = { output: unknown } | { suspend: Record<string, unknown> };

export interface StepKind {
  /** The key a step names this kind with: `operation: http` or `agent: hitl`. */
  readonly key: 'operation' | 'agent';
  /** The config, as validated when the step runs and (its static part) when the ensemble loads. */
  readonly config: z.ZodObject;
  /** The config as editors see it, when more precise than `config`. */
  readonly editorSchema?: z.ZodType;
  /** The input, when the kind has a fixed shape for it (hitl's `inputs`). */
  readonly input?: z.ZodType;
  /** Whether the step's input is written `inputs` first (hitl, as spec 004 writes it) or `input`. */
  readonly inputsFirst?: boolean;
  /**
   * Config fields where a secret may be used (`${env.TOKEN}`, verbatim): the ones this kind
   * consumes itself and never records, such as an http step's `url` and `headers.*`.
   */
  readonly credentials?: readonly (readonly string[])[];
  /** The config field that says where those credentials go (its origin must be fixed in the file). */
  readonly destination?: readonly string[];
  /** Credential fields are stored with the run until used (kept as written, env alone in them). */
  readonly storesCredentials?: boolean;
  /**
   * Config fields whose text is this kind's own template language (an html template's
   * `{{name}}`): the loader does not take their `{{...}}` for conductor's placeholders.
   */
  readonly ownTemplates?: readonly (readonly string[])[];
  /** Whether a step's `retry` applies (an operation may be tried again; waiting for people is not). */
  readonly retries: boolean;
  /** Load-time checks of a step of this kind (paths inside the step). */
  check(step: StepAsWritten, ctx: LoadContext): ConfigProblem[];
  /** Runs a step; throws a StepError (with a stable code) when it fails. */
  run(ctx: StepRun): Promise<StepOutcome>;
}

/** The kinds a deployment has, by name (`http`, `hitl`, ...). */
export type StepKinds = Readonly<Record<string, StepKind>>;

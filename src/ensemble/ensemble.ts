import type { z } from 'zod';
import type { Template } from '../expression/template';
import type { NodeType } from './nodes';
import type { InputDeclaration } from './schema';
import type { RetryPolicy } from '../runtime/retry';
import type { Trigger } from '../triggers/schema';
import type { LibraryFile } from '../library/library';

/** A loaded, validated ensemble with every expression compiled: what runs execute. */
export interface Ensemble {
  name: string;
  description?: string;
  file: string;
  source: string;
  /** Of the file, and of the library files it uses (`<file>+<part of each>`). */
  hash: string;
  /** The files of agents/ and prompts/ it uses: part of the definition a run keeps. */
  library?: LibraryFile[];
  inputs: Record<string, InputDeclaration>;
  /** Validates a run input against `inputs:` (every problem at once). */
  inputSchema: z.ZodType<Record<string, unknown>>;
  /** The tree: steps and control nodes, run in order. */
  body: CompiledNode[];
  /** Every step of the tree, in the order of the file. */
  steps: CompiledStep[];
  /** Every named node (steps and named control nodes) by name: where it sits, for `${name...}`. */
  names: ReadonlyMap<string, NodePlace>;
  output?: Template;
  /** Conductor's output blocks: the first whose `when` holds gives the output and the HTTP answer. */
  responses?: OutputBlock[];
  version?: string;
  /** What starts its runs besides `POST /ensembles/:name` (src/triggers/). */
  triggers?: Trigger[];
}

export interface OutputBlock {
  when?: Template;
  status: number;
  headers?: Template;
  body: Template;
}

/**
 * Where a node sits: its path as segments from the top, each loop segment marked with the loop's
 * id, so a run fills in the loop's current index (`per-invoice[2]/invoice-ok`).
 */
export interface NodePlace {
  id: string;
  parts: readonly PathPart[];
  /** Ids of the loops (foreach, while, map-reduce) around the node, outermost first. */
  loops: readonly string[];
}

export interface PathPart {
  segment: string;
  /** This segment is a loop's own: its children sit under `segment[index]`. */
  loop?: string;
}

interface NodeCommon {
  /** The node's place in the file (`agents.2.steps.0`): unique, stable for a given definition. */
  id: string;
  /** Its segment of a path: its name, or `<type>-<position>` for an unnamed control node. */
  segment: string;
}

export interface CompiledStep extends NodeCommon {
  type: 'step';
  name: string;
  /** The kind's name (`http`, `hitl`) and the key that named it (`operation: http`, `agent: hitl`). */
  kind: string;
  key: 'operation' | 'agent';
  index: number;
  condition?: Template;
  config: Template;
  input: Template;
  onError: 'fail' | 'continue';
  retry?: RetryPolicy;
  /** Time limit per attempt of an operation step, and what it gives past it. */
  timeoutMs?: number;
  onTimeout?: { error: boolean; fallback?: Template };
  /** Its output kept in KV for `ttl` seconds, by `key` (default: its rendered input and config). */
  cache?: { ttl: number; key?: Template; bypass?: Template };
  /** The library agent it runs, with the version chosen (`review@2`): its records say so. */
  agent?: string;
}

type List = CompiledNode[];

/** Each control node type, compiled: its expressions and its child lists. */
export interface ControlNodes {
  parallel: { branches: List; waitFor: 'all' | 'any' };
  sequence: { steps: List };
  branch: { test: Template; then: List; else: List };
  switch: { value: Template; cases: [string, List][]; default: List };
  foreach: { items: Template; body: List; maxConcurrency: number; breakWhen?: Template };
  while: { test: Template; body: List; maxIterations: number };
  try: { body: List; catch: List; finally: List };
  'map-reduce': { items: Template; map: List; reduce: List; maxConcurrency: number };
}

export type ControlNode<T extends NodeType = NodeType> = { [K in T]: NodeCommon & { type: K; name?: string; condition?: Template } & ControlNodes[K] }[T];

export type CompiledNode = CompiledStep | ControlNode;

/** Root names every expression can read besides earlier steps. */
export const reservedNames: ReadonlySet<string> = new Set([
  'input', 'inputs', 'env', 'execution', 'steps', 'Math', 'JSON', 'Date', 'now', 'String', 'Number', 'Boolean',
  'undefined', 'true', 'false', 'null', 'this', 'output', 'config', 'item', 'index', 'error', 'results',
]);
export const scopeRoots: ReadonlySet<string> = new Set(['input', 'env', 'execution']);

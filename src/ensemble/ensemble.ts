import type { z } from 'zod';
import type { Template } from '../expression/template';
import type { InputDeclaration } from './schema';

/** A loaded, validated ensemble with every expression compiled: what runs execute. */
export interface Ensemble {
  name: string;
  description?: string;
  file: string;
  source: string;
  hash: string;
  inputs: Record<string, InputDeclaration>;
  /** Validates a run input against `inputs:` (every problem at once). */
  inputSchema: z.ZodType<Record<string, unknown>>;
  steps: CompiledStep[];
  output?: Template;
}

export interface CompiledStep {
  name: string;
  /** The kind's name (`http`, `hitl`) and the key that named it (`operation: http`, `agent: hitl`). */
  kind: string;
  key: 'operation' | 'agent';
  index: number;
  condition?: Template;
  config: Template;
  input: Template;
  onError: 'fail' | 'continue';
  retry?: { attempts: number; backoffMs: number };
}

/** Root names every expression can read besides earlier steps. */
export const reservedNames: ReadonlySet<string> = new Set([
  'input', 'inputs', 'env', 'execution', 'steps', 'Math', 'JSON', 'Date', 'now', 'String', 'Number', 'Boolean',
  'undefined', 'true', 'false', 'null', 'this', 'output', 'config',
]);
export const scopeRoots: ReadonlySet<string> = new Set(['input', 'env', 'execution']);

import { z } from 'zod';
import { EnsembleFile, operationNames } from './schema';
import { operations } from '../operations/registry';
import { HitlConfig, HitlInput } from '../hitl/agent';

type Json = Record<string, unknown>;

const OPTIONS = { target: 'draft-7', io: 'input', unrepresentable: 'any' } as const;

/** Annotations editors show on hover; on a wrapped value they belong to the wrapper. */
const ANNOTATIONS = ['title', 'description', 'default', 'examples'] as const;

const EXPRESSION: Json = {
  type: 'string',
  pattern: '\\$\\{|^\\$env\\.[A-Za-z_][A-Za-z0-9_]*$',
  description: 'A `${...}` expression (or "$env.NAME"), evaluated when the step runs.',
};

/**
 * The JSON Schema for editors (yaml-language-server), generated from the zod schemas the loader
 * itself uses: the file, each step, each operation's config (`editorSchema` where an operation has
 * a more precise one) and the `hitl` agent's inputs and config, so it cannot drift from them.
 * Values under config, input(s) and output may be `${...}` expressions wherever they sit.
 */
export function ensembleJsonSchema(): Json {
  const root = z.toJSONSchema(EnsembleFile, OPTIONS) as Json;
  const properties = root.properties as Record<string, Json>;
  properties.output = { ...properties.output, description: 'Evaluated when the run completes: the run\'s output (synonym: outputs).' };
  properties.outputs = { description: 'Synonym of output (the conductor docs\' spelling).' };

  const step = (properties.agents!.items ?? {}) as Json;
  const stepProps = step.properties as Record<string, Json>;
  stepProps.operation = {
    ...stepProps.operation,
    enum: [...operationNames, 'hitl'],
    description: `${String(stepProps.operation!.description ?? '')} \`operation: hitl\` is accepted as \`agent: hitl\`.`.trim(),
  };
  step.oneOf = [{ required: ['operation'] }, { required: ['agent'] }];
  step.not = { required: ['input', 'inputs'] };
  step.allOf = [
    ...operationNames.map((name) => {
      const op = operations[name];
      return {
        if: { properties: { operation: { const: name } }, required: ['operation'] },
        then: { properties: { config: part(op.editorSchema ?? op.config) } },
      };
    }),
    {
      if: { anyOf: [
        { properties: { agent: { const: 'hitl' } }, required: ['agent'] },
        { properties: { operation: { const: 'hitl' } }, required: ['operation'] },
      ] },
      // The whole inputs may be one expression (`inputs: ${input.gate}`): its keys are checked when the step runs.
      then: { properties: { config: part(HitlConfig), inputs: { anyOf: [part(HitlInput), EXPRESSION] }, input: { anyOf: [part(HitlInput), EXPRESSION] } } },
    },
  ];
  const { $schema, ...rest } = root;
  return {
    $schema,
    title: 'Ensemble',
    description: 'An ensemble: agents (steps) run in order; `${...}` expressions allowed in values. See docs/ensembles.md.',
    ...rest,
  };
}

/** One operation's or agent's config or input: a mapping whose values may each be `${...}`. */
function part(schema: z.ZodType): Json {
  const { $schema: _, ...json } = z.toJSONSchema(schema, OPTIONS) as Json;
  return expressionsAllowed(json, false);
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Wraps every constrained value as `anyOf: [value, expression]`, keeping its hover text outside. */
function expressionsAllowed(node: Json, wrap = true): Json {
  const out: Json = { ...node };
  if (isObject(out.properties)) out.properties = Object.fromEntries(Object.entries(out.properties).map(([k, v]) => [k, expressionsAllowed(v as Json)]));
  if (isObject(out.additionalProperties)) out.additionalProperties = expressionsAllowed(out.additionalProperties);
  if (isObject(out.items)) out.items = expressionsAllowed(out.items);
  for (const key of ['anyOf', 'oneOf']) {
    if (Array.isArray(out[key])) out[key] = (out[key] as Json[]).map((branch) => expressionsAllowed(branch, false));
  }
  const constrained = ['type', 'enum', 'const', 'anyOf', 'oneOf'].some((k) => k in out);
  const anyString = out.type === 'string' && !['pattern', 'format', 'enum', 'const', 'minLength', 'maxLength'].some((k) => k in out);
  if (!wrap || !constrained || anyString) return out;
  const wrapper: Json = {};
  for (const k of ANNOTATIONS) {
    if (k in out) {
      wrapper[k] = out[k];
      delete out[k];
    }
  }
  return { ...wrapper, anyOf: [out, EXPRESSION] };
}

import { z } from 'zod';
import { EnsembleFile, Step } from './schema';
import { childKeys, nodeSchemas, nodeTypes } from './nodes';
import type { StepKinds } from '../runtime/step-kind';

type Json = Record<string, unknown>;

const OPTIONS = { target: 'draft-7', io: 'input', unrepresentable: 'any' } as const;

/** Annotations editors show on hover; on a wrapped value they belong to the wrapper. */
const ANNOTATIONS = ['title', 'description', 'default', 'examples'] as const;

const ref = (name: string): Json => ({ $ref: `#/definitions/${name}` });
const EXPRESSION = ref('expression');

/** Keys a mapping may carry, and which of them it must. */
interface Keys { properties: Record<string, Json>; required: string[] }

/** A kind of step: the key that names it, its config and input, its input's spellings (offered first, first). */
interface Kind { key: 'operation' | 'agent'; name: string; config: Json; input: Json; spellings: readonly [string, string] }

/**
 * The JSON Schema for editors (yaml-language-server), generated from the zod schemas the loader
 * itself uses: the file, each step, each operation's config (`editorSchema` where an operation has
 * a more precise one) and the `hitl` agent's inputs and config, so it cannot drift from them.
 * Values under config, input(s) and output may be `${...}` expressions wherever they sit.
 *
 * Keys that exclude each other (`operation` or `agent`, `input` or `inputs`, `output` or `outputs`)
 * are `oneOf` branches that each list only the keys they allow: an editor completes from the branch
 * the mapping matches, so it offers no key that would make it invalid, and each step kind carries
 * exactly one `config` schema (no generic one beside it).
 */
export function ensembleJsonSchema(kinds: StepKinds): Json {
  const { $schema, ...root } = z.toJSONSchema(EnsembleFile, OPTIONS) as Json;
  const { output, agents, ...fileKeys } = root.properties as Record<string, Json>;
  const definitions: Record<string, Json> = {
    expression: {
      type: 'string',
      pattern: '\\$\\{|^\\$env\\.[A-Za-z_][A-Za-z0-9_]*$',
      description: 'A `${...}` expression (or "$env.NAME"), evaluated when the step runs.',
    },
    ...stepDefinitions(stepJson(), kinds),
    ...nodeDefinitions(),
  };
  const branches = closedBranches(
    {
      properties: {
        ...fileKeys,
        name: { type: 'string', description: "Conductor's spelling of `ensemble` (use one)." },
        input: { type: 'object', description: "Conductor's spelling: defaults of the run input, merged under what a request gives (or declarations, as under `inputs:`)." },
        agents: { ...agents, items: ref('node') },
      },
      required: (root.required as string[] | undefined) ?? [],
    },
    synonyms(
      ['output', { ...output, description: 'Evaluated when the run completes: the run\'s output (synonym: outputs).' }],
      ['outputs', { description: 'Synonym of output (the conductor docs\' spelling).' }],
    ),
  );
  return withMarkdown(scalarsMerged({
    $schema,
    title: 'Ensemble',
    description: 'An ensemble: agents (steps) run in order; `${...}` expressions allowed in values. See docs/ensembles.md.',
    type: 'object',
    oneOf: branches,
    definitions,
  }));
}

/**
 * Control nodes for the editor: each type's keys (`type` fixed to its name), its child lists as a
 * node or a list of nodes, and `node`: a step or any control node (what a list holds).
 */
function nodeDefinitions(): Record<string, Json> {
  const definitions: Record<string, Json> = {
    children: { anyOf: [ref('node'), { type: 'array', items: ref('node') }], description: 'A step or control node, or a list of them.' },
    node: { anyOf: [ref('step'), ...nodeTypes.map((t) => ref(`${t}-node`))] },
  };
  for (const type of nodeTypes) {
    const { $schema: _, ...schema } = z.toJSONSchema(nodeSchemas[type], OPTIONS) as Json;
    const properties = { ...(schema.properties as Record<string, Json>) };
    properties.type = { const: type, description: `A ${type} node.` };
    for (const key of childKeys[type]) {
      if (!properties[key]) continue;
      const described = { description: properties[key]!.description };
      properties[key] = type === 'switch' && key === 'cases'
        ? { ...described, type: 'object', additionalProperties: ref('children') }
        : { ...described, ...ref('children') };
    }
    definitions[`${type}-node`] = { ...schema, properties };
  }
  return definitions;
}

/** `Step` as JSON Schema, without its own `$schema` (it sits among the definitions). */
function stepJson(): Json {
  const { $schema: _, ...step } = z.toJSONSchema(Step, OPTIONS) as Json;
  return step;
}

/** The step (`step`) as one branch per kind and input spelling, and the schemas its branches share. */
function stepDefinitions(step: Json, table: StepKinds): Record<string, Json> {
  const { operation, agent, config, input, inputs, ...common } = step.properties as Record<string, Json>;
  const definitions: Record<string, Json> = {};
  const share = (name: string, schema: Json) => {
    definitions[name] = schema;
    return ref(name);
  };
  const shared = Object.fromEntries(Object.entries(common).map(([key, schema]) => [key, share(`step-${key}`, schema)]));
  const configOf = (kind: string, schema: Json) => share(`${kind}-config`, { description: config!.description, ...withComponent(schema) });
  const kinds: Kind[] = Object.entries(table).flatMap(([name, kind]): Kind[] => {
    const input: Json = kind.input ? { anyOf: [share(`${name}-input`, part(kind.input)), EXPRESSION] } : {};
    const one = { name, config: configOf(name, part(kind.editorSchema ?? kind.config)), input, spellings: (kind.inputsFirst ? ['inputs', 'input'] : ['input', 'inputs']) as Kind['spellings'] };
    // An agent is also accepted as `operation: <name>` (the conductor docs write `operation: hitl`).
    return kind.key === 'agent' ? [{ key: 'agent', ...one }, { key: 'operation', ...one }] : [{ key: 'operation', ...one }];
  });
  const describeKind = (key: 'operation' | 'agent') => key === 'operation'
    ? `${String(operation!.description)} \`operation: hitl\` is accepted as \`agent: hitl\`.`
    : String(agent!.description);
  const { required } = step as { required: string[] };
  const order = Object.keys(step.properties as Json);
  const described = (key: string, schema: Json): Json => ({ description: (key === 'input' ? input : inputs)!.description, ...schema });
  const branches = kinds.flatMap(({ key, name, config: kindConfig, input: kindInput, spellings: [first, second] }) => closedBranches(
    { properties: { ...shared, [key]: { description: describeKind(key), const: name }, config: kindConfig }, required: [...required, key] },
    synonyms([first, described(first, kindInput)], [second, described(second, kindInput)]),
  ));
  // A library agent (agents/): `agent: <name>` or `<name>@<version>`, any name but a built-in's.
  const builtIn = Object.entries(table).filter(([, k]) => k.key === 'agent').map(([n]) => n);
  branches.push(...closedBranches(
    {
      properties: {
        ...shared,
        agent: { type: 'string', not: { enum: builtIn }, description: 'An agent of the library (agents/): `name`, `name@version` or `name@latest`.' },
        config: { type: 'object', description: 'Merged over the library definition\'s config.' },
      },
      required: [...required, 'agent'],
    },
    synonyms(['input', described('input', {})], ['inputs', described('inputs', {})]),
  ));
  const chooseKind = [{ required: ['operation'] }, { required: ['agent'] }];
  // A step whose kind is not written yet matches this branch alone, so an editor offers `operation`
  // or `agent` (and the keys every step has) rather than every kind's `config`. It names the kind
  // keys without their values and comes last, so that a step with a kind (even a wrong one, or two)
  // is judged by the kinds' branches ("must be code | http | ...", "agent is not allowed").
  const unchosen: Json = {
    type: 'object',
    properties: { ...shared, operation: { type: 'string', description: describeKind('operation') }, agent: { type: 'string', description: describeKind('agent') } },
    required,
    additionalProperties: false,
    not: { anyOf: chooseKind },
  };
  definitions.step = {
    type: 'object',
    anyOf: chooseKind,
    oneOf: [...branches, unchosen].map((branch) => ({ ...branch, properties: inOrder(branch.properties as Record<string, Json>, order) })),
  };
  return definitions;
}

/** A config may name a config component (prompts/) whose mapping its other keys are merged over. */
function withComponent(schema: Json): Json {
  const component = { type: 'string', description: 'A config component of prompts/ (`name@version`): its mapping, with the keys beside it merged over it.' };
  if (schema.properties) return { ...schema, properties: { ...(schema.properties as Json), component } };
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[key])) return { ...schema, [key]: (schema[key] as Json[]).map(withComponent) };
  }
  return schema;
}

/** Two spellings of one key: the first may be absent, the second must be present, so exactly one branch matches. */
function synonyms([first, a]: [string, Json], [second, b]: [string, Json]): Keys[] {
  return [{ properties: { [first]: a }, required: [] }, { properties: { [second]: b }, required: [second] }];
}

/** The `oneOf` branches of a mapping: the keys of `base` with each alternative, each closed to other keys. */
function closedBranches(base: Keys, alternatives: Keys[]): Json[] {
  return alternatives.map((alt) => ({
    type: 'object',
    properties: { ...base.properties, ...alt.properties },
    required: [...base.required, ...alt.required],
    additionalProperties: false,
  }));
}

/** Properties in the order the zod schema declares them (what an editor lists first). */
function inOrder(properties: Record<string, Json>, order: string[]): Record<string, Json> {
  return Object.fromEntries(order.filter((k) => k in properties).map((k) => [k, properties[k]!]));
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

/** The keywords that judge only values of one type: on a value of another type they pass. */
const TYPE_KEYWORDS: Record<string, string[]> = {
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  string: ['minLength', 'maxLength', 'pattern', 'format'],
};
const MESSAGES = ['errorMessage', 'patternErrorMessage'];

/** Keywords whose values are data, not schemas: never rewritten. */
const DATA = new Set(['default', 'examples', 'enum', 'const', 'required']);
/** Keywords whose values map names to schemas (a property may be called `default`). */
const MAPS = new Set(['properties', 'definitions', 'patternProperties']);

/** `node` with `fn` applied to every schema in it, innermost first; data keywords are left as they are. */
function eachSchema(node: Json, fn: (schema: Json) => Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (DATA.has(key) || value === null || typeof value !== 'object') out[key] = value;
    else if (MAPS.has(key)) out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isObject(v) ? eachSchema(v, fn) : v]));
    else if (Array.isArray(value)) out[key] = value.map((v) => (isObject(v) ? eachSchema(v, fn) : v));
    else out[key] = eachSchema(value as Json, fn);
  }
  return fn(out);
}

/**
 * `anyOf: [{ type: number, minimum }, { type: string, pattern }]` as one `{ type: [number, string],
 * minimum, pattern }` (the same values pass: each keyword judges only its own type). An editor then
 * reports the keyword a value breaks ("below the exclusive minimum", the pattern's message), where
 * from two branches it reports the first branch's type ("Expected number" for "1 fortnight").
 */
const scalarsMerged = (node: Json): Json => eachSchema(node, (out) => {
  const branches = out.anyOf;
  if (!Array.isArray(branches) || branches.length < 2) return out;
  const types = branches.map((b: Json) => b.type);
  const mergeable = types.every((t) => typeof t === 'string' && t in TYPE_KEYWORDS) && new Set(types).size === types.length
    && branches.every((b: Json) => Object.keys(b).every((k) => k === 'type' || TYPE_KEYWORDS[b.type as string]!.includes(k) || MESSAGES.includes(k)))
    && MESSAGES.every((m) => branches.filter((b: Json) => m in b).length <= 1);
  if (!mergeable) return out;
  const { anyOf: _, ...rest } = out;
  return Object.assign(rest, ...branches.map(({ type: __, ...keywords }: Json) => keywords), { type: types });
});

/**
 * Every description also as `markdownDescription`, which yaml-language-server renders as Markdown on
 * hover and in completion; from `description` alone it escapes the backticks and shows them.
 */
const withMarkdown = (node: Json): Json => eachSchema(node, (out) => (typeof out.description === 'string' ? { ...out, markdownDescription: out.description } : out));

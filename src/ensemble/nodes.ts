import { z } from 'zod';
import { StepName } from './schema';

// Control nodes: what a step list may hold besides steps (`type: parallel`, ...). A control node
// stands anywhere a step stands; its child lists hold steps and control nodes again. Each type's
// keys are checked here (strict: a misspelt key is a problem, never ignored); the runtime's
// handlers (src/runtime/nodes/) run them.

export const nodeTypes = ['parallel', 'sequence', 'branch', 'switch', 'foreach', 'while', 'try', 'map-reduce'] as const;
export type NodeType = (typeof nodeTypes)[number];

/** A child list: one node, or a list of them. The loader reads each node again. */
const Children = z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]);
const Expression = z.union([z.string(), z.boolean(), z.number()]);
const common = {
  type: z.string(),
  name: StepName.optional().meta({ description: 'Names the node: its output is `${name.output}`, and its steps\' paths start with it.' }),
  description: z.string().optional(),
};
const runIf = { condition: z.union([z.boolean(), z.string()]).optional().meta({ description: 'Run the node only when this is truthy; otherwise it is skipped (output null).' }) };

/** The keys of each control node (values with `${...}` are checked as expressions by the loader). */
export const nodeSchemas = {
  parallel: z.strictObject({
    ...common, ...runIf,
    steps: Children.optional().meta({ description: 'The branches, started together: each entry is one branch (a step or a control node).' }),
    waitFor: z.enum(['all', 'any']).optional().meta({ description: 'all: the node completes when every branch has; any: when the first does, and the others are cancelled (their open approvals closed).', default: 'all' }),
  }),
  sequence: z.strictObject({
    ...common, ...runIf,
    steps: Children.optional().meta({ description: 'Run in order (a branch of a parallel that has several steps).' }),
  }),
  branch: z.strictObject({
    ...common,
    condition: z.union([z.boolean(), z.string()]).meta({ description: 'Which way to go: `then` when truthy, `else` otherwise.' }),
    then: Children.optional(),
    else: Children.optional(),
  }),
  switch: z.strictObject({
    ...common, ...runIf,
    value: Expression.meta({ description: 'The value whose text picks a case (a string, number or boolean).' }),
    cases: z.record(z.string(), z.unknown()).optional().meta({ description: 'Steps to run for each value.' }),
    default: Children.optional().meta({ description: 'Steps to run when no case matches.' }),
  }),
  foreach: z.strictObject({
    ...common, ...runIf,
    items: z.union([z.string(), z.array(z.unknown())]).meta({ description: 'The list to go through: an expression yielding an array, or a literal list. `${item}` and `${index}` are in scope inside.' }),
    step: z.record(z.string(), z.unknown()).optional().meta({ description: 'The step (or control node) run for each item.' }),
    steps: Children.optional().meta({ description: 'The steps run for each item, in order.' }),
    maxConcurrency: z.number().int().min(1).optional().meta({ description: 'How many items run at the same time.', default: 1 }),
    breakWhen: z.union([z.boolean(), z.string()]).optional().meta({ description: 'Checked after each item: when truthy, no further item starts.' }),
  }),
  while: z.strictObject({
    ...common,
    condition: z.union([z.boolean(), z.string()]).meta({ description: 'Checked before each iteration; `${name.output}` of a body step is the previous iteration\'s.' }),
    steps: Children.optional().meta({ description: 'The body, run while the condition holds.' }),
    maxIterations: z.number().int().min(1).optional().meta({ description: 'The most iterations; past it the run fails (WHILE_LIMIT).', default: 100 }),
  }),
  try: z.strictObject({
    ...common, ...runIf,
    steps: Children.optional().meta({ description: 'The steps tried.' }),
    catch: Children.optional().meta({ description: 'Run when a step fails, with `${error.code}`, `${error.message}` and `${error.step}`.' }),
    finally: Children.optional().meta({ description: 'Run after the steps (and catch), whatever happened.' }),
  }),
  'map-reduce': z.strictObject({
    ...common, ...runIf,
    items: z.union([z.string(), z.array(z.unknown())]).meta({ description: 'The list to map: an expression yielding an array, or a literal list.' }),
    map: Children.optional().meta({ description: 'The step(s) run for each item (`${item}`, `${index}`).' }),
    reduce: Children.optional().meta({ description: 'The step(s) run once with `${results}`, the map\'s outputs in item order.' }),
    maxConcurrency: z.number().int().min(1).optional().meta({ description: 'How many items are mapped at the same time.', default: 1 }),
  }),
} satisfies Record<NodeType, z.ZodObject>;

/** Keys of each control node that hold child lists, and whether the node needs one. */
export const childKeys: Record<NodeType, readonly string[]> = {
  parallel: ['steps'],
  sequence: ['steps'],
  branch: ['then', 'else'],
  switch: ['cases', 'default'],
  foreach: ['step', 'steps'],
  while: ['steps'],
  try: ['steps', 'catch', 'finally'],
  'map-reduce': ['map', 'reduce'],
};

/** Names a node body can read that are not steps: the frame's variables. */
export const frameVariables = ['item', 'index', 'error', 'results'] as const;

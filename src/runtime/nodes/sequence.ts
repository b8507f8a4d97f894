import type { Handler } from './handler';

/** `type: sequence`: its steps in order (a branch of a parallel made of several steps). */
export const sequence: Handler<'sequence'> = (node, frame, run) => run.list(node.steps, frame.under(node.segment));

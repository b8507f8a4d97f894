import type { ControlNode } from '../../ensemble/ensemble';
import type { NodeType } from '../../ensemble/nodes';
import type { Frame } from '../frame';
import type { Outcome, Run } from '../interpreter';
import type { NodeRecord } from '../run-state';

/**
 * How a control node runs: given its frame, the run (to run child lists, evaluate expressions,
 * cancel subtrees) and its record (where it keeps the choices it made, so a walk after a decision
 * takes the same ways), it returns what it came to.
 */
export type Handler<T extends NodeType> = (node: ControlNode<T>, frame: Frame, run: Run, path: string, rec: NodeRecord) => Promise<Outcome>;

import type { ControlNode } from '../../ensemble/ensemble';
import type { NodeType } from '../../ensemble/nodes';
import type { Frame } from '../frame';
import type { Outcome, Run } from '../interpreter';

/**
 * How a control node runs: given its frame, the run (to run child lists, evaluate expressions,
 * cancel subtrees, and read and change its record at `path`, where it keeps the choices it made,
 * so a walk after a decision takes the same ways), it returns what it came to. A record is
 * changed by `run.patchNode` (a new record each time), never in place.
 */
export type Handler<T extends NodeType> = (node: ControlNode<T>, frame: Frame, run: Run, path: string) => Promise<Outcome>;

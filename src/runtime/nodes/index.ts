import type { NodeType } from '../../ensemble/nodes';
import { branch } from './branch';
import { foreach } from './foreach';
import type { Handler } from './handler';
import { mapReduce } from './map-reduce';
import { parallel } from './parallel';
import { sequence } from './sequence';
import { switchNode } from './switch';
import { tryNode } from './try';
import { whileNode } from './while';

/** One handler per control node type: the compiler checks none is missing. */
export const nodeHandlers = {
  parallel,
  sequence,
  branch,
  switch: switchNode,
  foreach,
  while: whileNode,
  try: tryNode,
  'map-reduce': mapReduce,
} satisfies { [K in NodeType]: Handler<K> };

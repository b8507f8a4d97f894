import type { OperationName } from '../ensemble/schema';
import type { Operation } from './operation';
import { code } from './code';
import { http } from './http';

/** Every operation by name. A name in the schema without an entry here is a load error. */
export const operations: Partial<Record<OperationName, Operation>> = {
  code: code as unknown as Operation,
  http: http as unknown as Operation,
};

import type { OperationName } from '../ensemble/schema';
import type { Operation } from './operation';
import { code } from './code';
import { data } from './data';
import { email } from './email';
import { http } from './http';
import { think } from './think/think';

/** Every operation by name; the compiler checks none is missing. */
export const operations: Record<OperationName, Operation> = {
  code: code as unknown as Operation,
  http: http as unknown as Operation,
  think: think as unknown as Operation,
  email: email as unknown as Operation,
  data: data as unknown as Operation,
};

import type { Env } from '../env';
import { AppError, NotFoundError } from '../errors';
import { tokenExecution } from '../hitl/token';
import { EXECUTION_ID } from '../runtime/execution-id';

/** The HITL object of an execution id; 404 for anything that is not one (no object is touched). */
export function executionStub(env: Env, executionId: string) {
  if (!EXECUTION_ID.test(executionId)) throw new NotFoundError('execution');
  return env.HITL_STATE.get(env.HITL_STATE.idFromName(executionId));
}

/** The HITL object a callback token routes to, read from the token itself (no lookup). */
export function tokenStub(env: Env, token: string) {
  const executionId = tokenExecution(token);
  // The same answer as for a well-formed token the object does not know: nothing to tell apart.
  if (!executionId) throw new AppError('NOT_FOUND', 'unknown or invalid link', 404);
  return env.HITL_STATE.get(env.HITL_STATE.idFromName(executionId));
}

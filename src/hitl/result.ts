import { AppError } from '../errors';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * What an RPC method of the HITL object answers. Errors cross the RPC boundary as data (a thrown
 * class would arrive as a bare Error), and become an AppError again in the Worker.
 */
export type Result<T> = { ok: true; value: T } | { ok: false; error: { code: string; status: ContentfulStatusCode; message: string; details?: unknown } };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (code: string, status: ContentfulStatusCode, message: string, details?: unknown): Result<never> => ({
  ok: false,
  error: { code, status, message, ...(details === undefined ? {} : { details }) },
});

/** Unwraps a Result in the Worker: the value, or the AppError the one error handler renders. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  const { code, status, message, details } = result.error;
  throw new AppError(code, message, status, details);
}

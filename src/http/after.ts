import type { Context } from 'hono';

/**
 * Work that may finish after the response (`waitUntil`). Where no execution context exists (an
 * app called directly, as tests do), it is awaited before answering instead.
 */
export function after(c: Context, work: Promise<unknown>): Promise<unknown> | void {
  let ctx: ExecutionContext | undefined;
  try {
    ctx = c.executionCtx as ExecutionContext;
  } catch {
    ctx = undefined;
  }
  if (ctx) ctx.waitUntil(work);
  else return work;
}

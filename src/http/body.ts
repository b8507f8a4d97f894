import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError, ValidationError } from '../errors';

/** zod issues as clients read them: where, and what is wrong. */
export const issueList = (error: z.ZodError) =>
  error.issues.map((i) => ({ path: i.path.join('.'), code: i.code, message: i.message }));

/**
 * Reads a JSON (or, with `form`, a url-encoded form) body and validates it; 400 with every
 * zod issue when it does not match. An empty body counts as `{}`.
 */
export async function readBody<S extends z.ZodType>(c: Context, schema: S, form = false): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? '';
  let raw: unknown;
  if (form && (type.includes('application/x-www-form-urlencoded') || type.includes('multipart/form-data'))) {
    raw = Object.fromEntries((await c.req.formData()).entries());
  } else {
    const text = await c.req.text();
    try {
      raw = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      throw new AppError('INVALID_JSON', 'request body is not valid JSON', 400);
    }
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw new ValidationError('request body is invalid', issueList(result.error));
  return result.data;
}

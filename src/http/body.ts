import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError, ValidationError } from '../errors';
import { depthOf, LIMITS } from '../limits';

/** zod issues as clients read them: where, and what is wrong. */
export const issueList = (error: z.ZodError) =>
  error.issues.map((i) => ({ path: i.path.join('.'), code: i.code, message: i.message }));

/** Content types a JSON body may arrive with: none, JSON, plain text, or the url-encoded form type `curl -d` sends by default. */
const mayHoldJson = (type: string) => type.trim() === '' || /json/i.test(type) || /^(text\/plain|application\/x-www-form-urlencoded)\b/i.test(type.trim());

const isForm = (type: string) => /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type.trim());

/** A browser form post (its answers are pages, not JSON). */
export const isFormPost = (contentType: string | undefined) => isForm(contentType ?? '');

/** A browser asking for a page (not a client asking for JSON). */
export const wantsHtml = (accept: string | undefined) => !!accept && accept.includes('text/html') && !accept.startsWith('application/json');

/**
 * Reads a JSON (or, with `form`, a url-encoded or multipart form) body and validates it; 400 with
 * every zod issue when it does not match. An empty body counts as `{}`. Whatever a client sends, the
 * answer is 400, 413 or 415, never a crash: a form that does not parse, JSON that does not parse or
 * is nested deeper than LIMITS.jsonDepth, a content type that is neither.
 */
export async function readBody<S extends z.ZodType>(c: Context, schema: S, form = false): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? '';
  let raw: unknown;
  if (form && isForm(type)) {
    let data: FormData;
    try {
      data = await c.req.formData();
    } catch {
      throw new AppError('INVALID_FORM', 'request body is not a valid form (check the multipart boundary)', 400);
    }
    raw = Object.fromEntries([...data.entries()].map(([k, v]) => [k, typeof v === 'string' ? v : '']));
  } else {
    if (!mayHoldJson(type)) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', `content type '${type.slice(0, 100)}' is not accepted: send application/json${form ? ' or a form' : ''}`, 415);
    }
    // Decoded here rather than with .text(): a JSON body sent as url-encoded (what `curl -d` says)
    // is still JSON, and workerd warns on every .text() of such a body.
    return validated(schema, jsonOf(new Uint8Array(await c.req.arrayBuffer())));
  }
  checked(raw);
  return validated(schema, raw);
}

/** A JSON body's value from its bytes: parsed, depth-checked, `__proto__` refused (400s). */
export function jsonOf(bytes: Uint8Array): unknown {
  const text = new TextDecoder().decode(bytes);
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new AppError('INVALID_JSON', 'request body is not valid JSON', 400);
  }
  checked(raw);
  return raw;
}

/** Why a value cannot be a run's input (too deep, a `__proto__` key), or undefined. */
export function bodyProblem(raw: unknown): string | undefined {
  try {
    checked(raw);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function checked(raw: unknown): void {
  if (depthOf(raw, LIMITS.jsonDepth) > LIMITS.jsonDepth) {
    throw new AppError('TOO_DEEP', `request body is nested more than ${LIMITS.jsonDepth} levels deep`, 400);
  }
  const proto = protoKeyPath(raw);
  if (proto !== undefined) {
    // zod (like any plain object) drops a `__proto__` key without a word: refused instead, so that
    // nothing a client sends is silently lost (a form answer named `__proto__`, say).
    throw new ValidationError('request body is invalid', [{ path: proto, code: 'unrecognized_keys', message: "'__proto__' is not accepted as a key" }]);
  }
}

/**
 * Where the first own `__proto__` key of a parsed body is (`response.__proto__`), if any; a page's
 * form field named `response.__proto__` counts too (it becomes that key once gathered).
 */
function protoKeyPath(raw: unknown): string | undefined {
  const stack: [unknown, string][] = [[raw, '']];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (Object.hasOwn(v, '__proto__')) return path ? `${path}.__proto__` : '__proto__';
    const dotted = Object.keys(v).find((k) => k.endsWith('.__proto__'));
    if (dotted !== undefined) return path ? `${path}.${dotted}` : dotted;
    for (const [k, x] of Object.entries(v)) if (x !== null && typeof x === 'object') stack.push([x, path ? `${path}.${k}` : k]);
  }
  return undefined;
}

/** `raw` checked against `schema`: 400 with every zod issue when it does not match. */
export function validated<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const result = schema.safeParse(raw);
  if (!result.success) throw new ValidationError('request body is invalid', issueList(result.error));
  return result.data;
}

/**
 * A bulk decision from a page without JavaScript (the batch page, the inbox): the ticked items
 * (`itemField`, repeated), the button pressed (`action`: approve or reject) and one reason; the
 * form itself for fields of the caller's own. 400 for a form that does not parse, no button, or
 * nothing ticked.
 */
export async function bulkDecisionForm(req: Request, itemField: string): Promise<{ data: FormData; approved: boolean; items: string[]; reason?: string }> {
  let data: FormData;
  try {
    data = await req.formData();
  } catch {
    throw new AppError('INVALID_FORM', 'request body is not a valid form', 400);
  }
  const action = data.get('action');
  if (action !== 'approve' && action !== 'reject') throw new AppError('INVALID_FORM', 'press Approve or Reject', 400);
  const items = data.getAll(itemField).map((v) => (typeof v === 'string' ? v : ''));
  if (items.length === 0) throw new AppError('NOTHING_SELECTED', 'nothing was selected: tick the ones to decide', 400);
  const reason = data.get('reason');
  return { data, approved: action === 'approve', items, ...(typeof reason === 'string' && reason.trim() ? { reason } : {}) };
}

import { z } from 'zod';
import { StepError } from '../errors';
import { Duration } from '../ensemble/schema';
import { DurationError, parseDuration } from '../ensemble/duration';
import { withRetry } from '../runtime/retry';
import { defineOperation } from './operation';
import { depthOf, LIMITS } from '../limits';

const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;

export interface HttpOutput {
  status: number;
  ok: boolean;
  headers: Record<string, string>;
  body: unknown;
}

/** An HTTP answer the step treats as failure; 5xx and 429 are retried. */
class HttpStatusError extends StepError {
  constructor(readonly output: HttpOutput, url: string) {
    super('HTTP_ERROR', `${url} answered ${output.status}`, { details: output });
  }
}

/** Network errors, 5xx and 429 are worth another attempt; an answer too large to keep is not. */
const retryable = (e: unknown) => e instanceof HttpStatusError
  ? e.output.status >= 500 || e.output.status === 429
  : !(e instanceof StepError && (e.code === 'OUTPUT_TOO_LARGE' || e.code === 'VALUE_TOO_DEEP'));

/** `operation: http`: one request, JSON in and out, with timeout and retries. */
export const http = defineOperation({
  config: z.strictObject({
    url: z.url({ protocol: /^https?$/ }).meta({ description: 'the http:// or https:// URL', examples: ['https://api.example.com/orders/${input.id}'] }),
    method: z.enum(methods).optional().describe('default: POST when a body is given, else GET'),
    headers: z.record(z.string(), z.string()).optional().meta({ description: 'request headers', examples: [{ authorization: 'Bearer ${env.API_TOKEN}' }] }),
    body: z.unknown().optional().describe('sent as JSON (a string is sent as text); the method defaults to POST with a body'),
    timeout: Duration.optional().describe('per attempt; default 30s'),
    retries: z.number().int().min(0).max(10).optional().describe('extra attempts on network errors, 5xx and 429'),
    backoff: Duration.optional().describe('delay before the first retry; doubles; default 200ms'),
    throwOnError: z.boolean().optional().describe('fail the step on a non-2xx status (default true)'),
    idempotencyKey: z.union([z.string().min(1).max(255), z.literal(false)]).optional()
      .describe('the Idempotency-Key header; default `<executionId>:<step>`, the same on every attempt and re-run; false sends none'),
  }),
  credentials: [['url'], ['headers', '*']],
  destination: ['url'],
  check(config) {
    // Durations are strings zod cannot judge: "soon" must not wait until the step runs to fail.
    return (['timeout', 'backoff'] as const).flatMap((key) => {
      const value = config[key];
      if (typeof value !== 'string' && typeof value !== 'number') return [];
      try {
        parseDuration(value);
        return [];
      } catch (e) {
        if (!(e instanceof DurationError)) throw e;
        return [{ path: [key], message: e.message }];
      }
    });
  },
  async run({ config, execution, step }) {
    const method = config.method ?? (config.body === undefined ? 'GET' : 'POST');
    const headers = new Headers(config.headers);
    // Steps are at-least-once (a retry, or a re-run after the isolate died): the same key on every
    // attempt of this step of this execution lets the receiver make it exactly-once.
    if (config.idempotencyKey !== false && !headers.has('idempotency-key')) {
      headers.set('idempotency-key', config.idempotencyKey ?? `${execution.id}:${step}`);
    }
    let body: string | undefined;
    if (config.body !== undefined && method !== 'GET' && method !== 'HEAD') {
      if (typeof config.body === 'string') {
        body = config.body;
        if (!headers.has('content-type')) headers.set('content-type', 'text/plain; charset=utf-8');
      } else {
        body = JSON.stringify(config.body);
        if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      }
    }
    const timeoutMs = parseDuration(config.timeout ?? 30_000);
    const policy = { attempts: (config.retries ?? 0) + 1, backoffMs: parseDuration(config.backoff ?? 200) };
    return await withRetry(policy, async () => {
        let response: Response;
        try {
          response = await fetch(config.url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
        } catch (cause) {
          const timedOut = cause instanceof Error && cause.name === 'TimeoutError';
          throw new StepError(timedOut ? 'HTTP_TIMEOUT' : 'HTTP_NETWORK', timedOut
            ? `${method} ${config.url} timed out after ${timeoutMs}ms`
            : `${method} ${config.url} failed: ${String(cause)}`, { cause });
        }
        const output = await readResponse(response);
        if (!response.ok && config.throwOnError !== false) throw new HttpStatusError(output, `${method} ${config.url}`);
        return output;
    }, retryable);
  },
});

/** The body as text, refusing to read past what a step output may hold (a 100 MB answer stays unread). */
async function readText(response: Response): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  const tooLarge = () => new StepError('OUTPUT_TOO_LARGE', `the response body is larger than ${LIMITS.stepOutputBytes} bytes (the step output limit)`);
  if (declared > LIMITS.stepOutputBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > LIMITS.stepOutputBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.byteLength; }
  return new TextDecoder().decode(all);
}

async function readResponse(response: Response): Promise<HttpOutput> {
  const text = await readText(response);
  let body: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json') && text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    if (depthOf(body, LIMITS.valueDepth) > LIMITS.valueDepth) throw new StepError('VALUE_TOO_DEEP', `the response body is nested more than ${LIMITS.valueDepth} levels deep`);
  }
  return {
    status: response.status,
    ok: response.ok,
    headers: Object.fromEntries(response.headers),
    body,
  };
}

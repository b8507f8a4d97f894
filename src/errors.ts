import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * Every error the product raises on purpose. `code` is stable (clients and tests branch on it,
 * never on `message`); `status` is the HTTP status the one `onError` handler answers with.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: ContentfulStatusCode = 500,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  toJSON(): { code: string; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** A request body or run input that does not match its schema. */
export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super('INVALID_INPUT', message, 400, details);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, details?: unknown) {
    super('NOT_FOUND', `${what} not found`, 404, details);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'missing or invalid API key') {
    super('UNAUTHORIZED', message, 401);
  }
}

/**
 * The platform failed under a request (storage, a Durable Object that did not answer): nothing was
 * kept, and the same request may be sent again after `retryAfterS` (503 with Retry-After).
 */
export class UnavailableError extends AppError {
  constructor(code: string, message: string, details?: unknown, readonly retryAfterS = 1, options?: { cause?: unknown }) {
    super(code, message, 503, details, options);
  }
}

/** An ensemble that failed to load; `details` lists every problem with file:line:col. */
export class EnsembleInvalidError extends AppError {
  constructor(name: string, problems: unknown) {
    super('ENSEMBLE_INVALID', `ensemble '${name}' has load errors`, 422, problems);
  }
}

/** An expression that failed while it was evaluated (compile errors are load-time problems). */
export class ExpressionError extends AppError {
  constructor(message: string, readonly source?: string, code = 'EXPRESSION_ERROR') {
    super(code, message, 500, source === undefined ? undefined : { expression: source });
  }
}

/** A step that failed; carries the step name so the run can report `{step, code, message}`. */
export class StepError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(code, message, 500, options?.details, options);
  }
}

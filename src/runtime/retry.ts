export interface RetryPolicy {
  attempts: number;
  /** Delay before the second attempt; doubles after each further failure. */
  backoffMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` up to `policy.attempts` times, waiting with exponential backoff between attempts.
 * `retryable` decides whether an error is worth another attempt; the last error is rethrown.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  retryable: (error: unknown) => boolean = () => true,
): Promise<T> {
  let delay = policy.backoffMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !retryable(error)) throw error;
      if (delay > 0) await sleep(delay);
      delay *= 2;
    }
  }
}

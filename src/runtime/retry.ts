export interface RetryPolicy {
  attempts: number;
  /** Delay before the second attempt. */
  backoffMs: number;
  /** How later delays grow: doubling (the default), by the first delay each time, or not at all. */
  strategy?: 'exponential' | 'linear' | 'fixed';
  /** The longest delay. */
  maxDelayMs?: number;
  /** Retry only these failures: error codes, or HTTP statuses of an HTTP_ERROR. */
  retryOn?: readonly (string | number)[];
}

/** Conductor's names for kinds of failure, as this runtime's codes. */
const RETRY_ALIASES: Readonly<Record<string, readonly string[]>> = {
  NETWORK_ERROR: ['HTTP_NETWORK', 'MODEL_UNREACHABLE'],
  TIMEOUT: ['HTTP_TIMEOUT', 'STEP_TIMEOUT'],
};

/** Whether `error` is one of the failures a `retryOn` list names. */
export function retryOnMatches(retryOn: readonly (string | number)[], error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const status = ((error as { details?: { status?: unknown } } | null)?.details)?.status;
  return retryOn.some((r) => (typeof r === 'number' ? code === 'HTTP_ERROR' && status === r : r === code || (RETRY_ALIASES[r] ?? []).includes(String(code))));
}

/** The delay after failed attempt `n` (1-based). */
export function delayAfter(policy: RetryPolicy, n: number): number {
  const first = policy.backoffMs;
  const d = policy.strategy === 'fixed' ? first : policy.strategy === 'linear' ? first * n : first * 2 ** (n - 1);
  return Math.min(d, policy.maxDelayMs ?? Infinity);
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
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !retryable(error)) throw error;
      if (policy.retryOn && !retryOnMatches(policy.retryOn, error)) throw error;
      const delay = delayAfter(policy, attempt);
      if (delay > 0) await sleep(delay);
    }
  }
}

import { describe, expect, it } from 'vitest';
import { delayAfter, retryOnMatches } from '../../src/runtime/retry';
import { StepError } from '../../src/errors';

// The delays between attempts as docs/ensembles.md says (Retries, time limits and caching).

describe('retry delays', () => {
  it('exponential doubles, linear adds the first delay, fixed keeps it; maxDelay caps each', () => {
    const delays = (strategy: 'exponential' | 'linear' | 'fixed') => [1, 2, 3, 4].map((n) => delayAfter({ attempts: 5, backoffMs: 100, strategy, maxDelayMs: 500 }, n));
    expect(delays('exponential')).toEqual([100, 200, 400, 500]);
    expect(delays('linear')).toEqual([100, 200, 300, 400]);
    expect(delays('fixed')).toEqual([100, 100, 100, 100]);
  });

  it("retryOn names codes, conductor's NETWORK_ERROR and TIMEOUT, or HTTP statuses", () => {
    const http503 = new StepError('HTTP_ERROR', 'x answered 503', { details: { status: 503 } });
    expect(retryOnMatches([503], http503)).toBe(true);
    expect(retryOnMatches([502], http503)).toBe(false);
    expect(retryOnMatches(['TIMEOUT'], new StepError('STEP_TIMEOUT', 'late'))).toBe(true);
    expect(retryOnMatches(['NETWORK_ERROR'], new StepError('HTTP_NETWORK', 'down'))).toBe(true);
    expect(retryOnMatches(['NETWORK_ERROR'], new StepError('HTTP_TIMEOUT', 'late'))).toBe(false);
  });
});

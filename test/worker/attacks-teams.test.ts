import { describe, expect, it } from 'vitest';
import { teamsBody, TEAMS_MAX_BYTES } from '../../src/notify/teams';

// Found in the adversarial review of issue 12 (Teams). The card must stay under the limit by shortening, never fail to be
// sent: prompt and metadata are bounded in characters, but not in bytes once JSON-escaped.

describe('review 12: the Teams card size', () => {
  it('a prompt and metadata that JSON escapes to 6 bytes a character still produce a card under the limit', () => {
    const metadata = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}${'\udc00'.repeat(100)}`, '\ud800'.repeat(300)]));
    const notice = {
      kind: 'request' as const, executionId: 'exe_1', requestId: 1, status: 'pending' as const, approvals: [], ensemble: 'e', step: 's',
      prompt: '\u0001'.repeat(2_000), data: { a: 1 }, metadata, approvers: [], minApprovals: 1, expiresAt: Date.now(),
      personal: [], shared: { callbackUrl: 'https://x.test/callback/t', approveUrl: 'https://x.test/callback/t?action=approve', rejectUrl: 'https://x.test/callback/t?action=reject' },
    };
    let body = '';
    expect(() => { body = teamsBody(notice); }).not.toThrow();
    expect(new TextEncoder().encode(body).length).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
  });
});

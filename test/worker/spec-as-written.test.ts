import { describe, expect, it } from 'vitest';
import basicUsage from '../fixtures/spec/basic-usage.yaml?raw';
import codeReview from '../fixtures/spec/code-review.yaml?raw';
import contentApproval from '../fixtures/spec/content-approval.yaml?raw';
import transactionApproval from '../fixtures/spec/transaction-approval.yaml?raw';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { scripts } from '../../generated/registry';
import { appWith } from './helpers';
import { decide, stepOf } from './spec-driver';
import { stepKinds } from '../../src/kinds';

// test/fixtures/spec/ holds spec 004's complete examples copied verbatim (approvers included as
// the page prints them: `[email protected]`), URLs to example.com included.
const fixtures = { 'basic-usage': basicUsage, 'content-approval': contentApproval, 'transaction-approval': transactionApproval, 'code-review': codeReview };

describe("spec 004's examples, exactly as written", () => {
  it.each(Object.entries(fixtures))('%s loads without a problem', (name, source) => {
    const result = loadEnsemble({ file: `${name}.yaml`, source }, { kinds: stepKinds, scripts: new Set(Object.keys(scripts)) });
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
  });

  it('the basic usage example suspends for ADMIN_EMAIL, who rejects; publish is skipped', async () => {
    const { run } = appWith({ basic: basicUsage }, scripts);
    const start = await run('basic', { topic: 'as written' });
    expect(start.status).toBe(202);
    expect(start.body.pending).toMatchObject({ step: 'request-approval', approvers: ['admin@example.com'] });
    const done = await decide(start.body.executionId, 'reject');
    expect(done.status).toBe('completed');
    expect(stepOf(done, 'generate-content').output).toBe('Draft: Write a blog post about as written');
    expect(stepOf(done, 'publish').status).toBe('skipped');
  });

  it('the code review example skips the review when the checks fail', async () => {
    const { run } = appWith({ review: codeReview }, scripts);
    const res = await run('code-review', { diff: 'console.log(1)', repo: 'o/r', pr_number: 1 });
    expect(res.status).toBe(200);
    expect(res.body.steps.map((s: any) => [s.name, s.status])).toEqual([['lint', 'completed'], ['test', 'completed'], ['review', 'skipped'], ['merge', 'skipped']]);
  });

  it('the content approval example runs until its approval, which names one distinct approver for a quorum of two', async () => {
    const { run } = appWith({ content: contentApproval }, scripts);
    const res = await run('content-approval', { topic: 'x' });
    expect(res.status).toBe(422);
    expect(stepOf(res.body, 'generate').status).toBe('completed');
    expect(res.body.error.details).toMatchObject({ step: 'approve', code: 'INVALID_HITL_INPUT' });
    expect(res.body.error.details.message).toMatch(/^minApprovals \(2\) is more than the 1 distinct approver\(s\): email\s+protected$/);
  });
});

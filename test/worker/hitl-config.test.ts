import { describe, expect, it } from 'vitest';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { prepareApproval } from '../../src/hitl/agent';
import { hitlApp, stubOf } from './hitl-helpers';
import { auth } from './helpers';
import { stepKinds } from '../../src/kinds';

const problems = (source: string) => {
  const r = loadEnsemble({ file: 'e.yaml', source }, { kinds: stepKinds, scripts: new Set() });
  return r.ok ? [] : r.problems.map(formatProblem);
};

describe('hitl steps are checked at load time where static', () => {
  it('minApprovals above the approvers, a timeout over 365 days, an unknown channel, a wrong action', () => {
    expect(problems(`agents:
  - name: a
    agent: hitl
    inputs:
      approvers: [x@example.com]
      minApprovals: 2
      timeout: 40000000
  - name: b
    agent: hitl
    config:
      action: resume
      timeout: 1 fortnight
      notificationChannel: pigeon
`)).toEqual([
      'e.yaml:6:21: minApprovals (2) is more than the 1 approver(s)',
      'e.yaml:7:16: timeout must be more than 0 and at most 365 days (got 40000000 seconds)',
      "e.yaml:11:15: 'action' is 'resume': expected 'suspend'",
      'e.yaml:12:16: invalid duration "1 fortnight" (use a number or e.g. "30s", "24h", "7 days")',
      "e.yaml:13:28: 'notificationChannel' is 'pigeon': expected one of slack, email, webhook, teams, console",
    ]);
  });

  it('loads the spec snippets as written, including [[email protected]]', () => {
    expect(problems(`agents:
  - name: previous
    agent: hitl
  - name: approve
    agent: hitl
    inputs:
      data: \${previous.output}
      prompt: "Review this change"
      approvers: [[email protected]]
  - name: handle
    agent: hitl
    inputs:
      timeout: 3600
`)).toEqual([]);
  });

  it('values given by expressions are judged when the step runs, never refused at load time', () => {
    expect(problems(`agents:
  - name: review
    agent: hitl
    inputs: { prompt: Ship?, approvers: ["\${input.lead}"], escalateTo: \${input.boss}, escalateAfter: 1h, minApprovals: \${input.n}, onTimeout: \${input.policy} }
`)).toEqual([]);
  });
});

describe('the hitl agent combines both configuration styles', () => {
  const env = { PUBLIC_BASE_URL: 'https://pub.example' } as never;
  const prepare = (input: unknown, config: unknown, origin = 'http://origin.example') =>
    prepareApproval({ step: 's', input, config, env, execution: { id: 'x', ensemble: 'e', startedAt: '' }, origin, steps: {}, scripts: {}, written: () => undefined });

  it('inputs style: timeout in seconds, defaults', () => {
    expect(prepare({ data: { a: 1 }, prompt: 'P', approvers: ['a@x.io', ['b@x.io']], timeout: 3600 }, {})).toMatchObject({
      data: { a: 1 }, prompt: 'P', approvers: ['a@x.io', 'b@x.io'], minApprovals: 1, timeoutMs: 3_600_000, onTimeout: 'continue', channels: [], baseUrl: 'https://pub.example',
    });
  });

  it('config style: timeout in ms, approvalData as data, channel list, baseUrl from notificationConfig', () => {
    expect(prepare({ approvalData: { c: 1 } }, { action: 'suspend', timeout: 60000, notificationChannel: 'webhook', notificationConfig: { webhookUrl: 'https://h', baseUrl: 'https://b.example/' } })).toMatchObject({
      data: { c: 1 }, timeoutMs: 60_000, channels: ['webhook'], baseUrl: 'https://b.example', prompt: 'Approval required',
    });
  });

  it('durations as strings, and the 24h default', () => {
    expect(prepare({ timeout: '7 days' }, {}).timeoutMs).toBe(604_800_000);
    expect(prepare({}, { timeout: '90m' }).timeoutMs).toBe(5_400_000);
    expect(prepare({}, {}).timeoutMs).toBe(86_400_000);
  });

  it('rejects at run time what could not be checked at load time', () => {
    expect(() => prepare({ approvers: ['a'], minApprovals: 3 }, {})).toThrow(/minApprovals/);
    expect(() => prepare({ timeout: 0 }, {})).toThrow(/timeout/);
  });
});

describe('retention', () => {
  it('a finished execution is deleted after EXECUTION_RETENTION_DAYS', async () => {
    const app = hitlApp('keep', `agents:
  - name: ok
    agent: hitl
    inputs: { data: 1, prompt: P, approvers: [a@example.com] }
`);
    const { body } = await app.run('keep');
    const id = body.executionId;
    expect((await app.request(`/executions/${id}/cancel`, { method: 'POST', headers: auth })).status).toBe(200);
    // Not due yet: the object keeps the record.
    await runDurableObjectAlarm(stubOf(id));
    expect((await app.execution(id)).status).toBe(200);
    const cleanupAt = await (await import('cloudflare:test')).runInDurableObject(stubOf(id), async (_i, state) => {
      state.storage.sql.exec('UPDATE run SET cleanup_at = ?', Date.now() - 1);
      return state.storage.getAlarm();
    });
    expect(cleanupAt).not.toBeNull();
    await runDurableObjectAlarm(stubOf(id));
    expect((await app.execution(id)).status).toBe(404);
  });
});

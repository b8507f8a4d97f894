import { describe, expect, it } from 'vitest';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { suggest } from '../../src/ensemble/suggest';
import { appWith } from './helpers';
import { stepKinds } from '../../src/kinds';

const scripts = new Set(['greet']);
const report = (source: string) => {
  const r = loadEnsemble({ file: 'ensembles/t.yaml', source }, { kinds: stepKinds, scripts });
  return r.ok ? [] : r.problems.map(formatProblem);
};

describe('a typo in a hitl step never silently weakens the approval', () => {
  it("the issue's example: both typos reported at their keys, with the key meant", () => {
    expect(report(`agents:
  - name: review
    agent: hitl
    inputs:
      data: { a: 1 }
      prompt: Check
      approvers: [a@example.com, b@example.com]
      minApprovls: 2     # typo: the step now needs 1 approval
      timout: 60         # typo: the step now waits 24 hours
`)).toEqual([
      "ensembles/t.yaml:8:7: unknown key 'minApprovls' in hitl inputs — did you mean 'minApprovals'?",
      'ensembles/t.yaml:9:7: unknown key \'timout\' in hitl inputs — did you mean \'timeout\'? (seconds here as a number, or a string with its unit such as "30s" or "24h")',
    ]);
  });

  const inputsKeys = [
    ['minApprovls', 'minApprovals'], ['reqeuster', 'requester'], ['requireVerifed', 'requireVerified'], ['timout', 'timeout'],
    ['aprovers', 'approvers'], ['onTimout', 'onTimeout'], ['escalteTo', 'escalateTo'], ['escalateAftr', 'escalateAfter'],
    ['remindAfer', 'remindAfter'], ['remindrs', 'reminders'], ['MinApprovals', 'minApprovals'],
  ];
  const unit = (key: string, style: 'inputs' | 'config') => (['timeout', 'remindAfter', 'escalateAfter'].includes(key)
    ? ` (${style === 'inputs' ? 'seconds' : 'milliseconds'} here as a number, or a string with its unit such as "30s" or "24h")` : '');
  it.each(inputsKeys)('inputs style: %s is reported as a typo of %s', (typo, meant) => {
    const problems = report(`agents:\n  - name: r\n    agent: hitl\n    inputs:\n      prompt: Check\n      ${typo}: x\n`);
    expect(problems).toEqual([`ensembles/t.yaml:6:7: unknown key '${typo}' in hitl inputs — did you mean '${meant}'?${unit(meant, 'inputs')}`]);
  });

  const configKeys = [
    ['minApprovls', 'minApprovals'], ['reqeuster', 'requester'], ['requireVerifed', 'requireVerified'], ['timout', 'timeout'],
    ['notificationChanel', 'notificationChannel'], ['notifcationConfig', 'notificationConfig'], ['actoin', 'action'],
  ];
  it.each(configKeys)('config style: %s is reported as a typo of %s', (typo, meant) => {
    const problems = report(`agents:\n  - name: r\n    agent: hitl\n    config:\n      action: suspend\n      ${typo}: x\n`);
    expect(problems).toEqual([`ensembles/t.yaml:6:7: unknown key '${typo}' in hitl config — did you mean '${meant}'?${unit(meant, 'config')}`]);
  });

  it('a duration key written with a unit learns the unit of the real key; a count is never taken for approvers', () => {
    expect(report('agents:\n  - name: r\n    agent: hitl\n    config:\n      onTimeout: approve\n      timeoutSec: 3600\n')[0])
      .toContain("did you mean 'timeout'? (milliseconds here as a number");
    expect(report('agents:\n  - name: r\n    agent: hitl\n    inputs:\n      timeoutMs: 60000\n')[0]).toContain("did you mean 'timeout'? (seconds here as a number");
    expect(report('agents:\n  - name: r\n    agent: hitl\n    inputs:\n      approvers: [a@example.com, b@example.com]\n      approvals: 2\n'))
      .toEqual(["ensembles/t.yaml:6:7: unknown key 'approvals' in hitl inputs — did you mean 'minApprovals'?"]);
    expect(report('agents:\n  - name: r\n    agent: hitl\n    inputs:\n      approvers: 2\n'))
      .toEqual(['ensembles/t.yaml:5:18: approvers must be names or emails (a number here? the count is minApprovals)']);
  });

  it('notificationConfig keys too, even when their values are expressions', () => {
    expect(report(`agents:
  - name: r
    agent: hitl
    config:
      notificationChannel: webhook
      notificationConfig:
        webhookUlr: "$env.APPROVAL_WEBHOOK_URL"
        baseURL: \${env.PUBLIC_BASE_URL}
`)).toEqual([
      "ensembles/t.yaml:7:9: unknown key 'webhookUlr' in hitl notificationConfig — did you mean 'webhookUrl'?",
      "ensembles/t.yaml:8:9: unknown key 'baseURL' in hitl notificationConfig — did you mean 'baseUrl'?",
    ]);
  });

  it('a key of the other style says where it belongs', () => {
    expect(report(`agents:
  - name: r
    agent: hitl
    config:
      data: { a: 1 }
      metadata: { b: 2 }
    inputs:
      prompt: Check
      notificationChannel: email
      action: suspend
`)).toEqual([
      "ensembles/t.yaml:5:7: 'data' is not a hitl config key: it belongs under inputs:",
      "ensembles/t.yaml:6:7: 'metadata' is not a hitl config key: it belongs under inputs:",
      "ensembles/t.yaml:9:7: 'notificationChannel' is not a hitl inputs key: it belongs under config:",
      "ensembles/t.yaml:10:7: 'action' is not a hitl inputs key: it belongs under config:",
    ]);
  });

  it('an unknown key with nothing close lists what is allowed', () => {
    const [problem] = report(`agents:\n  - name: r\n    agent: hitl\n    inputs: { prompt: Check, colour: blue }\n`);
    expect(problem).toMatch(/^ensembles\/t\.yaml:4:30: unknown key 'colour' in hitl inputs \(expected one of: data, approvalData, prompt, approvers, .*requireVerified, returnLinks, format, form, onReject, allowDelegation, groupNotifications\)$/);
  });

  it('a run never starts on such a definition (422 ENSEMBLE_INVALID)', async () => {
    const app = appWith({ typo: `agents:\n  - name: r\n    agent: hitl\n    inputs: { prompt: Check, approvers: [a@example.com, b@example.com], minApprovls: 2 }\n` });
    const res = await app.run('typo');
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('ENSEMBLE_INVALID');
    expect(res.body.error.details[0].message).toBe("unknown key 'minApprovls' in hitl inputs — did you mean 'minApprovals'?");
  });

  it('inputs built by an expression are checked when the step runs (INVALID_HITL_INPUT naming the key)', async () => {
    const app = appWith({ dyn: `agents:\n  - name: r\n    agent: hitl\n    inputs: \${input.gate}\n` });
    const res = await app.run('dyn', { gate: { prompt: 'Check', approvers: ['a@example.com', 'b@example.com'], minApprovls: 2 } });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toMatchObject({ step: 'r', code: 'INVALID_HITL_INPUT' });
    expect(res.body.error.details.message).toContain("unknown key 'minApprovls' in hitl inputs — did you mean 'minApprovals'?");
  });
});

describe('operation configs: unknown keys with the key meant', () => {
  it.each([
    ['http', 'url: "http://x.test", methd: POST', "unknown config key 'methd' for operation 'http' — did you mean 'method'?"],
    ['think', 'promt: hi', "unknown config key 'promt' for operation 'think' — did you mean 'prompt'?"],
    ['email', 'to: a@example.com, subjct: hi, text: x', "unknown config key 'subjct' for operation 'email' — did you mean 'subject'?"],
    ['data', 'binding: DB, operation: query, sq1: "SELECT 1"', "unknown config key 'sq1' for a d1 data step — did you mean 'sql'?"],
  ])('%s', (operation, config, message) => {
    const problems = report(`agents:\n  - name: s\n    operation: ${operation}\n    config: { ${config} }\n`);
    expect(problems.map((p) => p.replace(/^ensembles\/t\.yaml:\d+:\d+: /, ''))).toContain(message);
  });

  it('suggestions need to be close', () => {
    expect(suggest('timout', ['timeout', 'prompt'])).toBe('timeout');
    expect(suggest('x', ['timeout'])).toBeUndefined();
    expect(suggest('colour', ['approvers', 'data'])).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { appWith } from './helpers';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';
import * as autoApprove from '../../scripts/auto-approve';

// an approval gate is a security control. `agent: hitl` must always be the
// built-in, and an approval agent defined once in agents/ must keep the approvers it names.

describe('approval gates', () => {
  it('a flow definition named hitl is a load problem: `agent: hitl` always means the built-in', () => {
    const source = `ensemble: spoof
agents:
  - name: hitl
    operation: code
    config: { script: auto-approve }
flow:
  - agent: hitl
    id: gate
    input: { prompt: Pay?, approvers: [cfo@example.com] }
`;
    const r = loadEnsemble({ file: 'ensembles/spoof.yaml', source }, { kinds: stepKinds, scripts: new Set(['auto-approve']) });
    // As loaded today: the "gate" is the auto-approve script.
    if (r.ok) expect(r.ensemble.steps.map((s) => `${s.name}:${s.key}:${s.kind}`)).toEqual(['gate:agent:hitl']);
    else expect(r.problems.map(formatProblem).join('\n')).toMatch(/built-in/);
  });

  it('a run that spoofs it is not auto-approved', async () => {
    const app = appWith({ spoof2: `ensemble: spoof2
agents:
  - name: hitl
    operation: code
    config: { script: auto-approve }
flow:
  - agent: hitl
    id: gate
    input: { prompt: Pay?, approvers: [cfo@example.com] }
` }, { 'auto-approve': autoApprove });
    const { status, body } = await app.run('spoof2', {});
    expect(body.output?.gate?.approved).not.toBe(true);
    expect([202, 422]).toContain(status);
  });

  it("a library hitl agent's approvers are not replaced by the run's caller through the step's input", async () => {
    const app = appWith({ pay: `ensemble: pay
agents:
  - name: gate
    agent: finance-gate
    input: \${input}
` }, {}, { 'agents/finance-gate.yaml': 'agent: hitl\nconfig:\n  approvers: [cfo@example.com]\n  prompt: Pay?\n  notificationChannel: console\n' });
    // The definition fixes the approvers: an input written as one expression could replace them.
    const { status, body } = await app.run('pay', { data: { amount: 5000 }, approvers: ['attacker@evil.test'] });
    expect(status).toBe(422);
    expect(JSON.stringify(body.error.details)).toContain('the config fixes approvers: the inputs cannot be one expression');
    // Written as a mapping without them, the gate is the definition's.
    const fixed = appWith({ pay: 'ensemble: pay\nagents:\n  - name: gate\n    agent: finance-gate\n    input: { data: "${input.data}" }\n' }, {}, { 'agents/finance-gate.yaml': 'agent: hitl\nconfig:\n  approvers: [cfo@example.com]\n  prompt: Pay?\n  notificationChannel: console\n' });
    const ok = await fixed.run('pay', { data: { amount: 5000 }, approvers: ['attacker@evil.test'] });
    expect(ok.status).toBe(202);
    expect(ok.body.pending.approvers).toEqual(['cfo@example.com']);
  });
});

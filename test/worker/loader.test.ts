import { describe, expect, it } from 'vitest';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';

const scripts = new Set(['auto-approve', 'greet']);
const load = (source: string, file = 'ensembles/t.yaml') => loadEnsemble({ file, source }, { kinds: stepKinds, scripts });
const report = (source: string) => {
  const r = load(source);
  return r.ok ? [] : r.problems.map(formatProblem);
};

describe('loading the spec formats', () => {
  it('loads a flow sequence holding an expression and a prompt block with expressions', () => {
    const r = load(`ensemble: x
agents:
  - name: previous
    operation: code
    config: { script: greet }
  - name: request-approval
    agent: hitl
    inputs:
      data: \${previous.output}
      prompt: |
        Review this for \${input.topic}:
        - Accuracy
      approvers: [\${env.ADMIN_EMAIL}]
      minApprovals: \${Math.ceil(approvers.length / 2)}
`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const step = r.ensemble.steps[1]!;
    expect(step).toMatchObject({ key: 'agent', kind: 'hitl' });
    expect(step.input.kind).toBe('object');
  });

  it('takes the name from the file when `ensemble:` is missing, and input/inputs as synonyms', () => {
    const r = load(`agents:\n  - name: a\n    operation: code\n    config: { script: scripts/greet.ts }\n    input: { x: 1 }\n  - name: b\n    operation: code\n    config: { script: ./scripts/greet }\n    inputs: { y: \${a.output} }\n`, 'ensembles/my-flow.yml');
    expect(r.ok && r.ensemble.name).toBe('my-flow');
  });
});

describe('problems are all reported, each at file:line:col', () => {
  it('bad YAML', () => {
    expect(report('ensemble: x\nagents:\n  - name: a\n    operation: code\n     config: 1\n')[0]).toMatch(/^ensembles\/t\.yaml:\d+:\d+: /);
  });

  it('schema, unknown operation, duplicate step, bad expression, references, unknown script, config keys, at once', () => {
    const problems = report(`ensemble: bad
agents:
  - name: a
    operation: code
    config: { script: scripts/nope }
    input:
      x: \${input.foo +}
  - name: a
    operation: htp
  - name: c
    operation: http
    config:
      url: \${later.output.url}
      metod: GET
    condition: \${missing.output}
  - name: later
    operation: code
    config: { script: greet }
    bogus: 1
`);
    expect(problems).toEqual([
      "ensembles/t.yaml:5:23: unknown script 'scripts/nope' (known: scripts/auto-approve, scripts/greet)",
      'ensembles/t.yaml:7:23: invalid expression: Expected expression after +',
      "ensembles/t.yaml:8:11: duplicate step name 'a' (first at step 1)",
      "ensembles/t.yaml:9:16: unknown operation 'htp' — did you mean 'http'?",
      "ensembles/t.yaml:13:14: step 'later' runs after 'c': only earlier steps can be referenced",
      "ensembles/t.yaml:14:7: unknown config key 'metod' for operation 'http' — did you mean 'method'?",
      "ensembles/t.yaml:15:18: unknown name 'missing': not a step before this one, or one of input, env, execution",
      "ensembles/t.yaml:19:5: unknown step key 'bogus' (expected one of: name, description, operation, agent, condition, config, input, inputs, onError, retry, timeout, onTimeout, cache)",
    ]);
  });

  it('a step reading itself, and a sibling cycle', () => {
    expect(report(`agents:
  - name: s
    operation: code
    config: { script: greet }
    input:
      a: \${b}
      b: \${a}
      me: \${s.output}
`)).toEqual([
      "ensembles/t.yaml:6:7: input 'a' depends on itself through its sibling inputs",
      "ensembles/t.yaml:8:13: step 's' cannot read its own result",
    ]);
  });

  it('forbidden property access is a load error at its character', () => {
    expect(report(`agents:\n  - name: s\n    operation: code\n    config: { script: greet }\n    input: { x: "\${input.constructor}" }\n`)).toEqual([
      "ensembles/t.yaml:5:26: invalid expression: access to 'constructor' is not allowed",
    ]);
  });

  it('a missing agents list and reserved names', () => {
    expect(report('ensemble: x\n')).toEqual(["ensembles/t.yaml:1:1: 'agents' is required"]);
    expect(report('agents:\n  - name: input\n    operation: code\n    config: { script: greet }\n')).toEqual([
      "ensembles/t.yaml:2:11: 'input' is reserved and cannot name a step",
    ]);
  });

  it('http config with a static bad url is caught at load time; a dynamic one is not', () => {
    expect(report('agents:\n  - name: h\n    operation: http\n    config: { url: "not a url" }\n')).toHaveLength(1);
    expect(report('agents:\n  - name: h\n    operation: http\n    config: { url: "${input.url}" }\n')).toEqual([]);
  });
});

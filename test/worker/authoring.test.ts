import { describe, expect, it } from 'vitest';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { appWith } from './helpers';
import { stepKinds } from '../../src/kinds';

// What a new author meets: step views with the fields the conductor docs use, one problem per
// mistake naming what was written and what was meant, and the docs' dialect where it is spelling.

const scripts = { ok: { default: () => ({ fine: true }) }, boom: { default: () => { throw new Error('nope'); } } };
const report = (source: string) => {
  const r = loadEnsemble({ file: 'ensembles/a.yaml', source }, { kinds: stepKinds, scripts: new Set(Object.keys(scripts)) });
  return r.ok ? [] : r.problems.map(formatProblem);
};

describe('step views', () => {
  it('expose output, input, status, error, executed and success', async () => {
    const app = appWith({ views: `agents:
  - name: good
    operation: code
    config: { script: ok }
  - name: bad
    operation: code
    config: { script: boom }
    onError: continue
  - name: skipped
    condition: \${false}
    operation: code
    config: { script: ok }
output:
  good: { success: \${good.success}, executed: \${good.executed}, error: \${good.error} }
  bad: { success: \${bad.success}, executed: \${bad.executed}, code: \${bad.error.code} }
  skipped: { success: \${skipped.success}, executed: \${skipped.executed}, status: \${skipped.status} }
` }, scripts);
    const res = await app.run('views');
    expect(res.body.output).toEqual({
      good: { success: true, executed: true, error: null },
      bad: { success: false, executed: true, code: 'STEP_FAILED' },
      skipped: { success: false, executed: false, status: 'skipped' },
    });
  });

  it('reading any other field of a step is a load problem, with the field meant', () => {
    expect(report('agents:\n  - name: a\n    operation: code\n    config: { script: ok }\noutput: { ok: "${a.sucess}", raw: "${a.outputs}" }\n')).toEqual([
      "ensembles/a.yaml:5:18: step 'a' has no field 'sucess' — did you mean 'success'?",
      "ensembles/a.yaml:5:38: step 'a' has no field 'outputs' — did you mean 'output'?",
    ]);
  });
});

describe('one problem per mistake, naming what was written', () => {
  it('a misspelt hyphenated step is one unknown step with the name meant', () => {
    expect(report('agents:\n  - name: fetch-order\n    operation: code\n    config: { script: ok }\n  - name: use\n    operation: code\n    config: { script: ok }\n    input: { o: "${fetch-ordr.output}" }\n'))
      .toEqual(["ensembles/a.yaml:8:20: unknown step 'fetch-ordr' — did you mean 'fetch-order'?"]);
  });

  it('an unknown operation is named, with the closest or the list', () => {
    expect(report('agents:\n  - name: a\n    operation: teleport\n')).toEqual(["ensembles/a.yaml:3:16: unknown operation 'teleport' (expected one of: code, http, think, email, data, storage, transform, html)"]);
    expect(report('agents:\n  - name: a\n    operation: thinkk\n    config: { prompt: hi }\n')).toEqual(["ensembles/a.yaml:3:16: unknown operation 'thinkk' — did you mean 'think'?"]);
  });
});

describe("the conductor docs' dialect", () => {
  it('operation: hitl, outputs: and Date.now() load and run as written', async () => {
    const app = appWith({ dialect: `agents:
  - name: a
    operation: code
    config: { script: ok }
  - name: review
    operation: hitl
    condition: \${false}
    inputs: { prompt: Check, approvers: [a@example.com] }
outputs:
  when: \${Date.now()}
  fine: \${a.output.fine}
` }, scripts);
    const res = await app.run('dialect');
    expect(res.status).toBe(200);
    expect(res.body.output.fine).toBe(true);
    expect(typeof res.body.output.when).toBe('number');
    expect(Math.abs(res.body.output.when - Date.now())).toBeLessThan(60_000);
  });

  it('its features this runtime lacks are one clear problem each, not a cascade; flow entries are steps', () => {
    expect(report('ensemble: x\nflow:\n  - step: a\ntrigger: { http: true }\nagents:\n  - name: a\n    operation: code\n    config: { script: ok }\n')).toEqual([
      "ensembles/a.yaml:3:5: 'name' is required",
      "ensembles/a.yaml:3:5: unknown step key 'step' (expected one of: name, description, operation, agent, condition, config, input, inputs, onError, retry, timeout, onTimeout, cache)",
      "ensembles/a.yaml:4:10: `trigger:` is a list of triggers (`- type: cron`, `- type: webhook`, ...)",
    ]);
  });
});

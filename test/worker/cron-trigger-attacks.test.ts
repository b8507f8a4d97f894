import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { appWith } from './helpers';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';
import { runSchedules } from '../../src/triggers/cron';
import * as greet from '../../scripts/greet';

// two schedules of one ensemble at the same minute, the
// spring daylight-saving gap as docs/triggers.md states it, schedules that can never fire, and
// one slow scheduled run holding back every other ensemble's.

const uid = () => crypto.randomUUID().slice(0, 8);
const step = 'agents:\n  - { name: hello, operation: code, config: { script: greet }, input: { name: "${input.name}" } }\n';
const problemsOf = (source: string) => {
  const r = loadEnsemble({ file: 'ensembles/t.yaml', source }, { kinds: stepKinds, scripts: new Set(['greet']) });
  return r.ok ? [] : r.problems.map(formatProblem);
};

describe('cron', () => {
  it('two cron triggers of one ensemble at the same time with different inputs both run (or the loader refuses the pair)', async () => {
    const name = `pair-${uid()}`;
    const source = `trigger:\n  - { type: cron, cron: "0 9 * * *", input: { name: eu } }\n  - { type: cron, cron: "0 9 * * *", input: { name: us } }\n${step}`;
    const app = appWith({ [name]: source }, { greet });
    if (app.registry.list().find((e) => e.name === name)!.problems.length > 0) return; // refused at load: fine
    const fired = (await runSchedules(env, app.registry, Date.UTC(2026, 2, 2, 9, 0))).filter((f) => f.ensemble === name);
    // The key is cron:<expr>@<zone>:<minute> per ensemble: the second trigger finds the first's
    // claim with another input (a mismatch), is reported as 'again', and never runs.
    expect(fired.map((f) => f.outcome)).toEqual(['started', 'started']);
  });

  it('a time the March change skips runs once, at the first minute after it, as docs/triggers.md says (30 2 * * * in New York on 8 March 2026)', async () => {
    const name = `gap-${uid()}`;
    const app = appWith({ [name]: `trigger:\n  - { type: cron, cron: "30 2 * * *", timezone: America/New_York, input: { name: ny } }\n${step}` }, { greet });
    const outcomes: string[] = [];
    // 2:00 EST -> 3:00 EDT at 7:00 UTC; scan 6:00..8:59 UTC minute by minute.
    for (let t = Date.UTC(2026, 2, 8, 6, 0); t < Date.UTC(2026, 2, 8, 9, 0); t += 60_000) {
      for (const f of await runSchedules(env, app.registry, t)) if (f.ensemble === name) outcomes.push(`${new Date(t).toISOString()} ${f.outcome}`);
    }
    expect(outcomes).toEqual(['2026-03-08T07:00:00.000Z started']);
  });

  it('an expression that can never fire (30 February) is a load problem, not a silent no-op costing a search every minute', () => {
    const problems = problemsOf(`trigger:\n  - { type: cron, cron: "0 0 30 2 *" }\n${step}`);
    expect(problems.length).toBeGreaterThan(0);
  });

  it('a cron input that does not fit the ensemble\'s inputs is a load problem, not a failure logged every time it fires', async () => {
    const source = `inputs:\n  name: { type: string, required: true }\ntrigger:\n  - { type: cron, cron: "* * * * *", input: { nme: typo } }\n${step}`;
    expect(problemsOf(source).length, 'loads; then fails (cron-input-invalid) every minute').toBeGreaterThan(0);
  });

  it('a slow scheduled run does not hold back another ensemble\'s start for the same minute', async () => {
    let releaseSlow!: () => void;
    const slowGate = new Promise<void>((r) => { releaseSlow = r; });
    let fastStarted = false;
    const slow = { default: async () => { await Promise.race([slowGate, new Promise((r) => setTimeout(r, 3000))]); return { slow: true }; } };
    const fast = { default: () => { fastStarted = true; releaseSlow(); return { fast: true }; } };
    const a = `slow-${uid()}`;
    const b = `fast-${uid()}`;
    const app = appWith({
      [a]: 'trigger:\n  - { type: cron, cron: "* * * * *" }\nagents:\n  - { name: s, operation: code, config: { script: slow } }\n',
      [b]: 'trigger:\n  - { type: cron, cron: "* * * * *" }\nagents:\n  - { name: f, operation: code, config: { script: fast } }\n',
    }, { slow, fast });
    const t0 = Date.now();
    const fired = (await runSchedules(env, app.registry, Date.UTC(2026, 2, 3, 10, 7))).filter((f) => f.ensemble === a || f.ensemble === b);
    expect(fired.map((f) => f.outcome)).toEqual(['started', 'started']);
    expect(fastStarted).toBe(true);
    // Started one after the other, the fast ensemble waits for the slow run to finish (3 s here;
    // up to a step's 15-minute timeout, with retries, in production) before it even starts.
    expect(Date.now() - t0, 'the slow run was waited for before the other ensemble started').toBeLessThan(2000);
  });
});

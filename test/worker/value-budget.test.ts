/// <reference types="vite/client" />
import { describe, expect, it } from 'vitest';
import { appWith } from './helpers';
import { Budget } from '../../src/expression/budget';
import { compileExpression } from '../../src/expression/compile';
import { LIMITS } from '../../src/limits';

// The hostile corpus: ensembles whose values grow by composition (siblings reading siblings,
// arrays of the same array, coercion to text, repeated templates), each refused at the first
// place over the budget, in well under a second, with memory bounded. Each file says what it
// builds and where it must be refused.
const corpus = import.meta.glob('../fixtures/hostile/*.yaml', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const scripts = { small: { default: () => ({ ok: true }) } };
const input = { s: 'x'.repeat(250_000), t: 'yyyyyyyyyy' };

describe('values built by composition stay within one budget per template', () => {
  it('the corpus holds every kind of builder', () => {
    expect(Object.keys(corpus).length).toBeGreaterThanOrEqual(14);
  });

  for (const [file, source] of Object.entries(corpus)) {
    const name = file.replace(/^.*\//, '').replace(/\.yaml$/, '');
    const where = /naming `([^`]+)`/.exec(source)?.[1];
    it(`${name}: refused with EXPRESSION_LIMIT at ${where}, quickly`, async () => {
      expect(where, 'the file says where it is refused').toBeDefined();
      const app = appWith({ [name]: source }, scripts);
      const started = Date.now();
      const res = await app.run(name, input);
      const took = Date.now() - started;
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(422);
      expect(res.body.error.details.code).toBe('EXPRESSION_LIMIT');
      expect(res.body.error.details.message).toContain(where);
      // What the issue measured before: 0.6 s for k = 21, and a dead isolate for k = 24. This bound
      // is a ceiling against regressions to that, not a benchmark.
      expect(took).toBeLessThan(3000);
      // Nothing over the limit was kept or answered.
      expect(JSON.stringify(res.body).length).toBeLessThan(LIMITS.stateBytes);
    });
  }

  it('a value under the budget still renders whole, shared parts and all', async () => {
    const app = appWith({ ok: `agents:\n  - name: s\n    operation: code\n    config: { script: small }\n    input:\n      a: \${input.t}\n      b: \${[a, a]}\n      c: \${[b, b]}\n      d: "\${a}-\${a}"\noutput: { c: \${s.input.c}, d: \${s.input.d}, n: \${([1, 2] + 3)} }\n` }, scripts);
    const res = await app.run('ok', input);
    expect(res.status).toBe(200);
    expect(res.body.output).toEqual({ c: [['yyyyyyyyyy', 'yyyyyyyyyy'], ['yyyyyyyyyy', 'yyyyyyyyyy']], d: 'yyyyyyyyyy-yyyyyyyyyy', n: '1,23' });
  });

  it('sizes count shared parts as often as they would be written, in time linear in the distinct parts', () => {
    const budget = new Budget();
    let v: unknown = 'ab';
    for (let i = 0; i < 40; i++) v = [v, v];
    // 2^40 copies of "ab" would print terabytes; measuring it takes 40 steps.
    expect(budget.sizeOf(v)).toBeGreaterThan(2 ** 40);
    expect(budget.sizeOf({ k: 'ab', n: 1 })).toBe(JSON.stringify({ k: 'ab', n: 1 }).length + 23);
  });

  it('one expression alone cannot build past the limit through `+` on arrays', () => {
    const e = compileExpression('(a + 1).length');
    expect(() => e.evaluate((n) => (n === 'a' ? Array(10).fill('x'.repeat(200_000)) : undefined))).toThrow(/expression limit/);
  });
});

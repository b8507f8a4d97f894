// Expression evaluation against a baseline in the same process: the same logic as a plain JS
// function. Reports the ratio (how many times slower the compiled expression is than native JS).
import { compileExpression } from '../src/expression/compile';
import { compileTemplate, renderTemplate } from '../src/expression/template';

const scope = (name: string) => (data as Record<string, unknown>)[name];
const data = {
  'risk-check': { output: { risk_score: 0.25 } },
  input: { transaction: { amount: 1200, customer: 'ACME' }, topic: 'edge' },
  approvers: ['a', 'b', 'c'],
};
const cases: [string, () => unknown, (s: typeof scope) => unknown][] = [
  ['risk-check.output.risk_score < 0.3', () => data['risk-check'].output.risk_score < 0.3, (() => { const e = compileExpression('risk-check.output.risk_score < 0.3', ['risk-check']); return (s) => e.evaluate(s); })()],
  ['Math.ceil(approvers.length / 2)', () => Math.ceil(data.approvers.length / 2), (() => { const e = compileExpression('Math.ceil(approvers.length / 2)'); return (s) => e.evaluate(s); })()],
  ['"Assess risk for ${input.transaction}"', () => `Assess risk for ${JSON.stringify(data.input.transaction)}`, (() => { const t = compileTemplate('Assess risk for ${input.transaction}', [], []); return (s) => renderTemplate(t, s); })()],
];

function time(fn: () => unknown, n: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - start) / n;
}

const N = Number(process.env.N ?? 200_000);
console.log(`expression evaluation, ${N} iterations each (ns per evaluation)`);
for (const [label, native, compiled] of cases) {
  time(native, 10_000); time(() => compiled(scope), 10_000); // warm up
  const base = time(native, N);
  const ours = time(() => compiled(scope), N);
  console.log(`${label.padEnd(44)} native ${base.toFixed(1).padStart(7)}  compiled ${ours.toFixed(1).padStart(7)}  ratio ${(ours / base).toFixed(1)}x`);
}

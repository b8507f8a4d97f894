import { describe, expect, it } from 'vitest';
import { compileExpression, type Scope } from '../../src/expression/compile';
import { compileTemplate, renderTemplate, type TemplateProblem } from '../../src/expression/template';

const data: Record<string, unknown> = {
  input: { topic: 'edge', transaction: { amount: 12000, customer: 'ACME' }, author: 'ann', diff: '+x', repo: 'o/r', pr_number: 7, manager_email: 'm@x.io', amount: 5, category: 'travel', receipt_url: 'https://r', query: 'select 1', customer_name: 'Bob' },
  env: { ADMIN_EMAIL: 'admin@example.com', ESCALATION_EMAIL: 'esc@example.com' },
  execution: { id: 'exe_1', ensemble: 'e', startedAt: '2026-01-01T00:00:00.000Z' },
  'risk-check': { status: 'completed', output: { risk_score: 0.2, factors: ['new'] } },
  'auto-approve': { status: 'completed', output: { approved: true } },
  'manual-review': { status: 'skipped', output: null },
  approve: { status: 'completed', input: { data: { x: 1 } }, output: { status: 'timeout', approved: false, rejected: false, reason: 'late', feedback: 'meh' } },
  'request-approval': { status: 'completed', output: { approved: true } },
  lint: { output: { passed: true } },
  test: { output: { passed: false } },
  generate: { output: 'text' },
  previous: { output: { amount: 3 } },
  approvers: ['a@x', 'b@x', 'c@x'],
};
const scope: Scope = (name) => (Object.hasOwn(data, name) ? data[name] : undefined);
const steps = ['risk-check', 'auto-approve', 'manual-review', 'request-approval'];
const evaluate = (src: string) => compileExpression(src, steps).evaluate(scope);

describe('expressions that appear in spec 004', () => {
  it.each([
    ['risk-check.output.risk_score < 0.3', true],
    ['risk-check.output.risk_score >= 0.3', false],
    ['auto-approve.output.approved || manual-review.output.approved', true],
    ['manual-review.output.approved', undefined],
    ["approve.output.status === 'timeout'", true],
    ['approve.output.approved', false],
    ['approve.output.rejected', false],
    ['lint.output.passed && test.output.passed', false],
    ['Math.ceil(approvers.length / 2)', 2],
    ['env.ADMIN_EMAIL', 'admin@example.com'],
    ['input.transaction.amount', 12000],
    ['approve.input.data', { x: 1 }],
    ['request-approval.output.approved', true],
    ['risk-check.output.factors', ['new']],
  ])('%s', (src, expected) => {
    expect(evaluate(src)).toEqual(expected);
  });

  it('now() is the current ISO time', () => {
    const value = evaluate('now()') as string;
    expect(Math.abs(Date.parse(value) - Date.now())).toBeLessThan(5000);
    expect(value).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

describe('operators follow JS precedence', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['10 % 4', 2],
    ['10 - 2 - 3', 5],
    ['-2 + 5', 3],
    ['!true || true', true],
    ['false && false || true', true],
    ['1 < 2 === true', true],
    ["'a' + 1", 'a1'],
    ['null ?? 5', 5],
    ['0 ?? 5', 0],
    ['0 || 5', 5],
    ["input.amount > 3 ? 'big' : 'small'", 'big'],
    ['[1, 2, input.amount]', [1, 2, 5]],
    ["{ a: 1, 'b': input.category }", { a: 1, b: 'travel' }],
    ["input['category']", 'travel'],
    ['approvers[1]', 'b@x'],
    ['1 == "1"', true],
    ['1 === "1"', false],
    ['2 != 3', true],
  ])('%s', (src, expected) => {
    expect(evaluate(src)).toEqual(expected);
  });
});

describe('null-safe access', () => {
  it.each([
    ['missing.output.approved', undefined],
    ['manual-review.output.approved', undefined],
    ['input.nope.deeper.still', undefined],
    ['input.topic.nope', undefined],
    ['approvers.length', 3],
    ["'abc'.length", 3],
  ])('%s', (src, expected) => {
    expect(evaluate(src)).toEqual(expected);
  });
});

describe('allowlisted functions and methods', () => {
  it.each([
    ['Math.max(1, 7, 3)', 7],
    ['Math.round(2.5)', 3],
    ['JSON.stringify({a: 1})', '{"a":1}'],
    ["JSON.parse('{\"a\":2}').a", 2],
    ["String(12) + '!'", '12!'],
    ["Number('4') + 1", 5],
    ['Boolean(0)', false],
    ["input.topic.toUpperCase()", 'EDGE'],
    ["input.topic.includes('dg')", true],
    ["approvers.join(', ')", 'a@x, b@x, c@x'],
    ["approvers.includes('c@x')", true],
    ["approvers.slice(1).length", 2],
  ])('%s', (src, expected) => {
    expect(evaluate(src)).toEqual(expected);
  });
});

describe('escape attempts are refused', () => {
  it.each([
    'constructor',
    'input.constructor',
    "input['constructor']",
    'input.__proto__',
    "input['__pro' + 'to__']",
    'input.topic.constructor.constructor("return 1")()',
    "''.constructor",
    'Math.constructor',
    '{}.toString',
    "approvers['map']",
    'input.hasOwnProperty("topic")',
    'input.topic.repeat(100000000)',
    'approvers.map(String)',
    'Math.abs.call(null, 1)',
    'this',
    'fetch("http://x")',
    'globalThis',
  ])('%s', (src) => {
    let result: unknown;
    try {
      result = evaluate(src);
    } catch {
      return; // refused at compile or evaluation time
    }
    // Reads that are not refused must give nothing back but undefined, never a function or prototype.
    expect(result).toBeUndefined();
  });

  it('methods of data are reachable only as calls, never as values', () => {
    expect(evaluate("input.topic['toUpperCase']")).toBeUndefined();
    expect(evaluate('approvers.join')).toBeUndefined();
    expect(() => evaluate("input.topic['constructor']['constructor']('return process')()")).toThrow();
  });

  it('object literal keys cannot be __proto__', () => {
    expect(() => evaluate('{ __proto__: 1 }')).toThrow(/not allowed/);
    expect(() => evaluate("{ ['__proto__']: 1 }")).toThrow(/not allowed/);
  });
});

describe('hyphenated step names', () => {
  it('are names only when declared; otherwise a hyphen is minus', () => {
    const s: Scope = (n) => ({ a: 5, b: 2, 'a-b': { v: 1 } } as Record<string, unknown>)[n];
    expect(compileExpression('a-b', []).evaluate(s)).toBe(3);
    expect(compileExpression('a-b.v', ['a-b']).evaluate(s)).toBe(1);
    expect(compileExpression('a - b', ['a-b']).evaluate(s)).toBe(3);
    expect(compileExpression("'a-b'", ['a-b']).evaluate(s)).toBe('a-b');
  });
});

describe('errors point at the character', () => {
  it.each([
    ['input.foo +', 11],
    ['1 +* 2', 3],
    ['(1', 2],
  ])('%s fails at %i', (src, index) => {
    let error: { index?: number } | undefined;
    try { compileExpression(src); } catch (e) { error = e as { index: number }; }
    expect(error?.index).toBe(index);
  });

  it('rejects operators outside the promised set', () => {
    expect(() => compileExpression('1 | 2')).toThrow();
    expect(() => compileExpression('~1')).toThrow();
  });
});

describe('templates', () => {
  const render = (value: unknown) => {
    const problems: TemplateProblem[] = [];
    const t = compileTemplate(value, steps, problems);
    expect(problems).toEqual([]);
    return renderTemplate(t, scope);
  };

  it('a whole-value expression keeps its type', () => {
    expect(render('${input.transaction}')).toEqual({ amount: 12000, customer: 'ACME' });
    expect(render('${input.transaction.amount}')).toBe(12000);
    expect(render('${risk-check.output.risk_score < 0.3}')).toBe(true);
  });

  it('interpolation turns objects into JSON, never [object Object]', () => {
    expect(render('Assess risk for ${input.transaction}')).toBe('Assess risk for {"amount":12000,"customer":"ACME"}');
    expect(render('https://api.github.com/repos/${input.repo}/pulls/${input.pr_number}/merge')).toBe('https://api.github.com/repos/o/r/pulls/7/merge');
    expect(render('x${missing.output}y')).toBe('xy');
  });

  it('$env.NAME as a whole string reads env', () => {
    expect(render('$env.ADMIN_EMAIL')).toBe('admin@example.com');
    expect(render('cost $env.ADMIN_EMAIL')).toBe('cost $env.ADMIN_EMAIL');
  });

  it('$${ is a literal ${', () => {
    expect(render('price $${input.amount}')).toBe('price ${input.amount}');
  });

  it('nested values render in place', () => {
    expect(render({ to: ['${env.ADMIN_EMAIL}'], n: 1, deep: { s: '${input.amount * 2}' } })).toEqual({ to: ['admin@example.com'], n: 1, deep: { s: 10 } });
  });

  it('reports an unterminated expression', () => {
    const problems: TemplateProblem[] = [];
    compileTemplate('a ${input.x', [], problems);
    expect(problems[0]?.message).toMatch(/unterminated/);
  });
});

import { describe, expect, it } from 'vitest';
import { appWith, auth } from './helpers';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';
import { Library } from '../../src/library/library';
import { LIMITS } from '../../src/limits';
import * as greet from '../../scripts/greet';

// Hostile library files and references: every one is a problem or a failed step with a code,
// never a crash, a hang, a prototype reached or text sent with a reference in it.

const scripts = new Set(['greet']);
const libraryOf = (files: Record<string, string>) => new Library(Object.entries(files).map(([file, source]) => ({ file, source, hash: `h-${file}` })), { kinds: stepKinds, scripts });
const problemsOf = (files: Record<string, string>) => libraryOf(files).problems.map(formatProblem);
const load = (source: string, files: Record<string, string>) => loadEnsemble({ file: 'ensembles/t.yaml', source }, { kinds: stepKinds, scripts, library: libraryOf(files) });

describe('hostile library files', () => {
  it('refuses alias bombs, deep nesting, oversized files and too many files, each as a problem of its file', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join('\n');
    const started = Date.now();
    const problems = problemsOf({
      'agents/bomb.yaml': `operation: code\nconfig:\n  script: greet\n  payload:\n    ${bomb.replace(/\n/g, '\n    ')}\n`,
      'agents/deep.yaml': `operation: code\nconfig: ${'['.repeat(200)}${']'.repeat(200)}\n`,
      'prompts/huge.md': 'x'.repeat(LIMITS.ensembleFileBytes + 1),
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(problems.find((p) => p.startsWith('agents/bomb.yaml'))).toMatch(/alias|could not be loaded/i);
    expect(problems.find((p) => p.startsWith('agents/deep.yaml'))).toMatch(/nested|could not be loaded/i);
    expect(problems.find((p) => p.startsWith('prompts/huge.md'))).toMatch(/characters long \(limit/);
    const many = Object.fromEntries(Array.from({ length: LIMITS.libraryFiles + 5 }, (_, i) => [`prompts/p${i}.md`, 'hi']));
    expect(problemsOf(many)).toEqual([expect.stringMatching(/the library has 1005 files \(limit 1000\); the rest were not read/)]);
  });

  it('gives no prototype a name: __proto__ as an agent, a component, a version or a key of a value', () => {
    const lib = libraryOf({
      'agents/__proto__.yaml': 'operation: code\nconfig: { script: greet }\n',
      'prompts/evil.yaml': 'value: { __proto__: { polluted: true }, constructor: { prototype: { polluted: true } } }\n',
    });
    expect(lib.problems.map(formatProblem).join('\n')).toMatch(/__proto__/);
    expect(lib.agent('__proto__')).not.toHaveProperty('found');
    expect(lib.agent('constructor')).toBeUndefined();
    expect(lib.component('toString')).toBeUndefined();
    expect(lib.component('evil@__proto__')).toEqual({ problem: expect.stringContaining("has no version '__proto__'") });
    const r = load('agents:\n  - name: a\n    operation: code\n    config: { component: evil, script: greet }\n', { 'prompts/evil.yaml': 'value: { __proto__: { polluted: true }, x: 1 }\n' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(r.ok).toBe(true);
  });

  it('bounds what a component builds with the value budget, and refuses a reference longer than a name', async () => {
    const app = appWith(
      { big: 'agents:\n  - { name: a, operation: think, config: { provider: openai, prompt: "prompt://bomb" }, input: { s: "${input.s}" } }\n' },
      { greet },
      { 'prompts/bomb.md': '{{input.s}}'.repeat(10) },
    );
    const { status, body } = await app.run('big', { s: 'x'.repeat(150_000) });
    expect(status).toBe(422);
    expect(body.steps[0].error.code).toBe('EXPRESSION_LIMIT');
    const r = load(`agents:\n  - { name: a, operation: think, config: { prompt: "prompt://${'x'.repeat(5000)}@1" } }\n`, {});
    expect(r.ok).toBe(false);
  });

  it('GET /agents shows no config (where credentials are written)', async () => {
    const app = appWith({}, { greet }, { 'agents/api.yaml': 'operation: http\nconfig: { url: "https://api.example.com/x", headers: { authorization: "Bearer ${env.OPENAI_API_KEY}" } }\n' });
    const body = (await (await app.request('/agents', { headers: auth })).json()) as any;
    expect(body.agents[0]).toEqual({ name: 'api', file: 'agents/api.yaml', operation: 'http' });
  });
});

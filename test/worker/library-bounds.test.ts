import { describe, expect, it } from 'vitest';
import { appWith, received } from './helpers';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';
import { Library } from '../../src/library/library';
import { LIMITS } from '../../src/limits';

// the library's versions, what a run stores of it, what a component may hold.

const sent = async () => (await received('/openai')).map((r) => JSON.stringify(r.json.messages));
const problemsOf = (app: ReturnType<typeof appWith>) => app.registry.list().flatMap((e) => e.problems.map(formatProblem));

describe('library', () => {
  it('`agent: x` and `x@latest` pick the release 1.0.0, not its pre-release 1.0.0-beta', () => {
    const code = 'operation: code\nconfig: { script: greet }\n';
    const lib = new Library([
      { file: 'agents/x/1.0.0.yaml', source: code, hash: 'a' },
      { file: 'agents/x/1.0.0-beta.yaml', source: code, hash: 'b' },
    ], { kinds: stepKinds, scripts: new Set(['greet']) });
    expect(lib.problems).toEqual([]);
    expect((lib.agent('x') as { found: { version: string } }).found.version).toBe('1.0.0');
    expect((lib.agent('x@latest') as { found: { version: string } }).found.version).toBe('1.0.0');
  });

  it('an ensemble whose library files cannot be stored with a run is a load problem, not a 503 on every run that suspends', async () => {
    // 10 prompts of 250 KB: each within its limit, 10 of 64 files; 2.5 MB in one SQLite value.
    const files: Record<string, string> = {};
    const refs: string[] = [];
    for (let i = 0; i < 10; i++) {
      files[`prompts/p${i}.md`] = `---\nversion: 1\n---\n${i}${'x'.repeat(250_000)}`;
      refs.push(`        p${i}: "prompt://p${i}@1"`);
    }
    expect(Object.values(files).every((s) => s.length < LIMITS.ensembleFileBytes)).toBe(true);
    const app = appWith({ blob: `ensemble: blob
agents:
  - name: gate
    agent: hitl
    inputs: { prompt: ok?, approvers: [a@example.com] }
    config: { notificationChannel: console }
  - name: a
    operation: transform
    config:
      value:
${refs.join('\n')}
` }, {}, files);
    const problems = problemsOf(app);
    if (problems.length) return expect(problems.join('\n')).toMatch(/library|prompts|bytes|large/i);
    const { status, body } = await app.run('blob', {});
    expect(status, JSON.stringify(body.error?.code)).toBe(202);
  });

  it('a prompt of unclosed {{ loads in well under a second (the placeholder pattern is quadratic)', () => {
    const started = Date.now();
    appWith(
      { dos: 'agents:\n  - { name: s, operation: think, config: { provider: openai, prompt: "prompt://p" }, input: { text: hi } }\n' },
      {},
      { 'prompts/p.md': '{{'.repeat(60_000) },
    ).registry.list();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("a conductor reference inside a prompt component (template://) is a load problem, never sent", async () => {
    const app = appWith({ nd: 'agents:\n  - { name: a, operation: think, config: { provider: openai, prompt: "prompt://outer" }, input: { text: hi } }\n' }, {}, { 'prompts/outer.md': 'template://layout@v1' });
    const problems = problemsOf(app);
    if (problems.length) return expect(problems.join('\n')).toMatch(/template:\/\//);
    const before = (await sent()).length;
    await app.run('nd', {});
    expect((await sent()).slice(before).join('\n')).not.toContain('template://');
  });

  it('a step config written as an expression over a library agent is a problem, not silently dropped', async () => {
    const app = appWith(
      { ce: 'agents:\n  - { name: s, agent: summ, config: "${input.cfg}", input: { text: hi } }\n' },
      {},
      { 'prompts/summary.md': 'Summarise {{input.text}}', 'agents/summ.yaml': 'operation: think\nconfig: { provider: openai, prompt: "prompt://summary" }\n' },
    );
    expect(problemsOf(app).join('\n')).toMatch(/config/);
  });
});

import { describe, expect, it } from 'vitest';
import { appWith, received } from './helpers';
import { formatProblem } from '../../src/ensemble/problem';

// conductor's top-level `input:` defaults are taken as literal values, so a
// `${...}` or `{{...}}` in one reaches the model as it is written.

const sent = async () => (await received('/openai')).map((r) => JSON.stringify(r.json.messages));

describe('top-level input defaults', () => {
  it('a default holding ${...} or {{...}} is a load problem, never text sent to a model', async () => {
    const app = appWith({ idf: 'ensemble: idf\ninput:\n  topic: "${env.ADMIN_EMAIL}"\n  tone: "{{input.style}}"\nagents:\n  - { name: a, operation: think, config: { provider: openai, prompt: "About ${input.topic}, ${input.tone}" } }\n' });
    const problems = app.registry.list().flatMap((e) => e.problems.map(formatProblem));
    if (problems.length) return expect(problems.join('\n')).toMatch(/input/);
    const before = (await sent()).length;
    await app.run('idf', {});
    const prompts = (await sent()).slice(before).join('\n');
    expect(prompts).not.toMatch(/\$\{|\{\{/);
  });

  it('a think step\'s `prompt:` beside a config written as an expression is a problem, not a config silently dropped', () => {
    const app = appWith({ tp: 'agents:\n  - { name: a, operation: think, prompt: "Hi ${input.x}", config: "${input.cfg}" }\n' });
    expect(app.registry.list().flatMap((e) => e.problems.map(formatProblem)).join('\n')).toMatch(/config/);
  });
});

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

// Found by loading conductor's published template ensembles: each of its other reference forms is
// one problem naming the fix, never text sent as it is, and one cause gives one problem.
import { loadEnsemble } from '../../src/ensemble/loader';
import { stepKinds } from '../../src/kinds';

const problemsOf = (source: string) => {
  const r = loadEnsemble({ file: 'ensembles/c.yaml', source }, { kinds: stepKinds, scripts: new Set(['greet']) });
  return r.ok ? [] : r.problems.map(formatProblem);
};

describe("conductor's other reference forms", () => {
  it('$input.x and $step.field (its older form), ${{ x }}, and $${x} in a conductor file are one problem each', () => {
    expect(problemsOf('name: c\nflow:\n  - agent: a\n  - agent: b\nagents:\n  - { name: a, operation: code, config: { script: greet }, input: { name: $input.name } }\n  - { name: b, operation: code, config: { script: greet }, input: { name: $a.output.message } }\n')).toEqual([
      "ensembles/c.yaml:6:75: '$input.name' is conductor's older reference, which would be sent as it is: write `${input.name}`",
      "ensembles/c.yaml:7:75: '$a.output.message' is conductor's older reference, which would be sent as it is: write `${a.output.message}`",
    ]);
    expect(problemsOf('agents:\n  - { name: a, operation: code, config: { script: greet }, input: { name: "${{ input.name }}" } }\n')).toEqual([
      'ensembles/c.yaml:2:75: `${{ ... }}` is written `${ ... }` here (one pair of braces)',
    ]);
    expect(problemsOf('name: c\nagents:\n  - { name: a, operation: code, config: { script: greet }, input: { name: "Total: $${input.total}" } }\n')[0]).toMatch(/escape for the literal text `\$\{x\}`.*write `\$\{'\$' \+ x\}`/);
    // Our own `$env.NAME` shorthand and a price are not references.
    expect(problemsOf('agents:\n  - { name: a, operation: code, config: { script: greet }, input: { name: "$5.00" } }\n')).toEqual([]);
  });

  it('inline code is one problem, its own ${...} not read as ours', () => {
    expect(problemsOf('agents:\n  - name: a\n    operation: code\n    config:\n      code: |\n        return { key: `session:${token}` };\n')).toEqual([
      'ensembles/c.yaml:5:7: code written in YAML (`config.code`) is not run here: nothing is evaluated from text; put it in a module of scripts/ (`script:`) or a library agent\'s handler',
    ]);
  });

  it('an unknown agent in a parallel is that one problem: the node has its steps, later references are not "unknown"', () => {
    expect(problemsOf('name: c\nflow:\n  - type: parallel\n    steps:\n      - agent: analyze\n      - agent: summarize\n  - agent: greeter\n    input: { name: "${analyze.output}" }\nagents:\n  - { name: greeter, operation: code, config: { script: greet } }\n')).toEqual([
      "ensembles/c.yaml:5:16: unknown agent 'analyze' (not defined in agents:, not a built-in agent (hitl, wait))",
      "ensembles/c.yaml:6:16: unknown agent 'summarize' (not defined in agents:, not a built-in agent (hitl, wait))",
    ]);
  });

  it("a problem in what a use takes from a definition is shown at the definition", () => {
    expect(problemsOf('name: c\nflow:\n  - agent: fetch\n    input: { id: 1 }\nagents:\n  - name: fetch\n    operation: http\n    config:\n      url: "https://example.com"\n      methd: GET\n')).toEqual([
      "ensembles/c.yaml:10:7: unknown config key 'methd' for operation 'http' — did you mean 'method'?",
    ]);
  });

  it('an html template in Handlebars says Liquid is the engine; templateEngine: liquid is accepted', () => {
    expect(problemsOf('agents:\n  - { name: a, operation: html, config: { template: "<ul>{{#each items}}<li>{{this}}</li>{{/each}}</ul>" } }\n')[0]).toMatch(/is a Handlebars block .*write \{% for x in items %\}/);
    expect(problemsOf('agents:\n  - { name: a, operation: html, config: { templateEngine: liquid, template: "<p>{{ name }}</p>" } }\n')).toEqual([]);
  });
});

describe("conductor's think settings", () => {
  it('systemPrompt is the system prompt sent to the model', async () => {
    const app = appWith({ sp: 'agents:\n  - { name: a, operation: think, config: { provider: openai, prompt: "Say hi", systemPrompt: "Be brief." } }\n' });
    const before = (await received('/openai')).length;
    expect((await app.run('sp', {})).status).toBe(200);
    const [call] = (await received('/openai')).slice(before);
    expect(call.json.messages).toEqual(expect.arrayContaining([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hi' }]));
  });
});

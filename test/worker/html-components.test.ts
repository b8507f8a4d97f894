import { describe, expect, it } from 'vitest';
import { appWith } from './helpers';
import { formatProblem } from '../../src/ensemble/problem';

// html escapes every value by default and refuses `${...}` spliced into its
// template. A template kept in prompts/ has its {{ }} turned into `${...}` (component placeholders),
// so the step's input is spliced into the template unescaped and then run as Liquid.

describe('html template from a prompt component', () => {
  it('escapes input values and does not run them as Liquid', async () => {
    const app = appWith(
      { card: 'agents:\n  - name: page\n    operation: html\n    config: { template: "prompt://card@1" }\n    input: { name: "${input.name}" }\n' },
      {},
      { 'prompts/card.md': '---\nversion: 1\n---\n<h1>Hello {{ name }}</h1>' },
    );
    const problems = app.registry.list().flatMap((e) => e.problems.map(formatProblem));
    // Either a load problem (a component's placeholders in a template field), or escaped output.
    if (problems.length) return expect(problems.join('\n')).toMatch(/template/);
    const { status, body } = await app.run('card', { name: '<img src=x onerror=alert(1)>{{ "pw" | append: "ned" }}' });
    expect(status).toBe(200);
    const html = body.output.page.html as string;
    expect(html).not.toContain('<img');
    expect(html).not.toContain('pwned');
  });
});

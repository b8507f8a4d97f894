import { describe, expect, it } from 'vitest';
import { appWith, auth, received } from './helpers';
import { eventually, hitsAt, storedRun, suspend, tokenOf } from './hitl-helpers';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';
import { Library } from '../../src/library/library';
import * as greet from '../../scripts/greet';
import * as checkUsername from '../fixtures/conductor/agents/check-username/index';
import checkUsernameYaml from '../fixtures/conductor/agents/check-username/agent.yaml?raw';
import summarizeV1 from '../fixtures/conductor/agents/summarize/agent.yaml?raw';
import summarizeV2 from '../fixtures/conductor/agents/summarize/v2.yaml?raw';
import summaryV1 from '../fixtures/conductor/prompts/summary.md?raw';
import summaryV2 from '../fixtures/conductor/prompts/summary/v2.md?raw';
import modelSettings from '../fixtures/conductor/prompts/model-settings.yaml?raw';
import libraryFixture from '../fixtures/conductor/library.yaml?raw';
import componentsFixture from '../fixtures/conductor/components.yaml?raw';
import keysFixture from '../fixtures/conductor/keys.yaml?raw';
import outputBlocksFixture from '../fixtures/conductor/output-blocks.yaml?raw';

// Conductor's agent library, versioned references, prompt and config components, its spellings of
// step keys, and output blocks: each fixture in test/fixtures/conductor/ loads and runs as written.

const libraryFiles = {
  'agents/check-username/agent.yaml': checkUsernameYaml,
  'agents/summarize/agent.yaml': summarizeV1,
  'agents/summarize/v2.yaml': summarizeV2,
  'prompts/summary.md': summaryV1,
  'prompts/summary/v2.md': summaryV2,
  'prompts/model-settings.yaml': modelSettings,
};
const scripts = { greet, 'agents/check-username/index': checkUsername };
const scriptKeys = new Set(Object.keys(scripts));
const libraryOf = (files: Record<string, string>) => new Library(Object.entries(files).map(([file, source]) => ({ file, source, hash: `h-${file}` })), { kinds: stepKinds, scripts: scriptKeys });
const load = (source: string, files: Record<string, string> = libraryFiles) =>
  loadEnsemble({ file: 'ensembles/t.yaml', source }, { kinds: stepKinds, scripts: scriptKeys, library: libraryOf(files) });
const problems = (source: string, files?: Record<string, string>) => {
  const r = load(source, files);
  return r.ok ? [] : r.problems.map(formatProblem);
};
/** The prompts the model was sent (the local OpenAI stand-in records them), newest last. */
const promptsSent = async () => (await received('/openai')).map((r) => r.json.messages.find((m: { role: string }) => m.role === 'user')?.content as string);

describe('the agent library', () => {
  it('runs library agents by name and version, merges the step config over the definition, and records the version used', async () => {
    const app = appWith({ 'library-demo': libraryFixture }, scripts, libraryFiles);
    const before = (await promptsSent()).length;
    const { status, body } = await app.run('library-demo', { username: 'ops' });
    expect(status, JSON.stringify(body.error)).toBe(200);
    // `reserved: [ops]` came from the step's config, merged over the definition's (none).
    expect(body.output).toEqual({ available: false });
    const records = Object.fromEntries(body.steps.map((s: { name: string }) => [s.name, s]));
    expect(records['check-username']).toMatchObject({ status: 'completed', agent: 'check-username', output: { message: 'ops is taken' } });
    expect(records.short).toMatchObject({ status: 'completed', agent: 'summarize@1.0.0' });
    expect(records.latest).toMatchObject({ status: 'completed', agent: 'summarize@2.0.0' });
    const sent = (await promptsSent()).slice(before);
    // v1: conductor's top-level `prompt:`, a component with {{input.text}} rendered from the step's input.
    expect(sent).toContain('Summarise in one line: ops is taken');
    // v2: {{audience}} (a key of the step's input), {{input.words}} and ${input.text}.
    expect(sent).toContain('Summarise for operators in at most 12 words: ops');
    expect(sent.join('\n')).not.toMatch(/\{\{|prompt:\/\/|\$\{/);
  });

  it('lists agents, versions and components at GET /agents, with the files that do not load', async () => {
    const app = appWith({}, scripts, { ...libraryFiles, 'agents/broken.yaml': 'name: broken\noperation: thinkk\n' });
    const res = await app.request('/agents', { headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.agents.map((a: { name: string; version?: string }) => `${a.name}@${a.version ?? '-'}`).sort()).toEqual(['check-username@-', 'summarize@1.0.0', 'summarize@2.0.0']);
    expect(body.agents.find((a: { name: string }) => a.name === 'check-username')).toMatchObject({ operation: 'code', schema: { input: { username: 'string' } } });
    expect(body.components.map((c: { name: string; version?: string; kind: string }) => `${c.name}@${c.version}:${c.kind}`).sort()).toEqual(['model-settings@1:config', 'summary@1:prompt', 'summary@v2:prompt']);
    expect(body.problems).toEqual([expect.objectContaining({ file: 'agents/broken.yaml', line: 2, message: expect.stringContaining("unknown operation 'thinkk' — did you mean 'think'?") })]);
    expect((await app.request('/agents')).status).toBe(401);
  });

  it('refuses what does not resolve, each with one problem naming what exists', () => {
    expect(problems('agents:\n  - { name: a, agent: summarize@3, input: { text: x } }\n')).toEqual([
      "ensembles/t.yaml:2:23: agent 'summarize' has no version '3' (versions: 1.0.0, 2.0.0)",
    ]);
    expect(problems('agents:\n  - { name: a, agent: summarise, input: { text: x } }\n')).toEqual([
      "ensembles/t.yaml:2:23: unknown agent 'summarise' — did you mean 'summarize'? (in agents/)",
    ]);
    expect(problems('agents:\n  - { name: a, agent: nothing-like-it }\n')[0]).toMatch(/unknown agent 'nothing-like-it' \(not in agents\/, not a built-in agent \(hitl, wait\)\)/);
    // A definition that does not load is named as the reason.
    expect(problems('agents:\n  - { name: a, agent: broken }\n', { 'agents/broken.yaml': 'operation: code\nconfig: { script: nope }\n' })[0]).toMatch(/agent 'broken' is defined in agents\/broken.yaml, which does not load/);
  });

  it('checks each library file on its own, with file:line:col', () => {
    const lib = libraryOf({
      'agents/hitl.yaml': 'name: hitl\nagent: hitl\n',
      'agents/a.yaml': 'name: a\noperation: code\nhandlr: ./x.ts\n',
      'agents/b/agent.yaml': 'operation: code\n',
      'agents/c.yaml': 'operation: http\nconfig: { url: "https://example.com" }\nlogging: { level: debug }\n',
      'agents/d.yaml': 'name: d\noperation: code\nconfig: { script: greet }\n',
      'agents/d2.yaml': 'name: d\noperation: code\nconfig: { script: greet }\n',
      'prompts/p.yaml': 'template: hi\nvalue: 1\n',
      'prompts/q.md': '---\nversion: [1\n---\nhello\n',
    });
    const byFile = Object.fromEntries(lib.problems.map((p) => [p.file, formatProblem(p)]));
    expect(byFile['agents/hitl.yaml']).toMatch(/'hitl' is a built-in agent/);
    expect(byFile['agents/a.yaml']).toBe("agents/a.yaml:3:1: unknown key 'handlr' in an agent definition — did you mean 'handler'?");
    expect(byFile['agents/b/agent.yaml']).toMatch(/the handler module agents\/b\/index.ts does not exist/);
    expect(byFile['agents/c.yaml']).toMatch(/^agents\/c.yaml:3:1: 'logging:' is a conductor key this runtime does not support/);
    expect(byFile['agents/d2.yaml']).toMatch(/'d' \(no version\) is also defined in agents\/d.yaml/);
    expect(byFile['prompts/p.yaml']).toMatch(/exactly one of `template:`/);
    expect(byFile['prompts/q.md']).toMatch(/^prompts\/q.md:2:/);
  });

  it('keeps the library files a run uses with the run: it continues on them after an approval', async () => {
    const ensemble = `name: pinned
agents:
  - name: gate
    agent: hitl
    inputs: { prompt: ok?, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}/hooks/pinned" } }
  - name: after
    agent: summarize
    input: { text: "\${input.t}", audience: all, words: 3 }
`;
    const app = appWith({ pinned: ensemble }, scripts, libraryFiles);
    const defined = await (await app.request('/ensembles/pinned', { headers: auth })).json() as any;
    expect(defined.library).toEqual(['agents/summarize/v2.yaml', 'prompts/summary/v2.md']);
    const id = await suspend(app, 'pinned', { t: 'pinned text' });
    const stored = await storedRun(id) as any;
    expect(stored.definition.library.map((f: { file: string }) => f.file)).toEqual(defined.library);
    const [hit] = await hitsAt('/hooks/pinned', 1, id);
    const before = (await promptsSent()).length;
    const decided = await app.request(`/callback/${tokenOf(hit.json.approvers[0].callbackUrl)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved: true }) });
    expect(decided.status).toBe(200);
    const run = await eventually(async () => {
      const body = await (await app.request(`/executions/${id}`, { headers: auth })).json() as any;
      expect(body.status).toBe('completed');
      return body;
    });
    expect(run.steps.find((s: { name: string }) => s.name === 'after')).toMatchObject({ agent: 'summarize@2.0.0', status: 'completed' });
    expect((await promptsSent()).slice(before)).toContain('Summarise for all in at most 3 words: pinned text');
  });
});

describe('prompt and config components', () => {
  it('resolves prompt:// and component: in a step, renders {{...}} and ${...} from its input, merges keys over a config component', async () => {
    const app = appWith({ 'components-demo': componentsFixture }, scripts, libraryFiles);
    const before = (await received('/openai')).length;
    const { status } = await app.run('components-demo', { text: 'the contract' });
    expect(status).toBe(200);
    const [call] = (await received('/openai')).slice(before);
    expect(call.json.messages.at(-1).content).toBe('Summarise for lawyers in at most 20 words: the contract');
    // From the component: maxTokens 200; the step's temperature 0.3 over the component's 0.1.
    expect(call.json).toMatchObject({ temperature: 0.3, max_tokens: 200 });
  });

  it('never lets an unresolved reference or a literal {{...}} through: load problems', () => {
    expect(problems('agents:\n  - { name: a, operation: think, config: { prompt: "prompt://sumary@1" } }\n')[0]).toMatch(/component 'sumary@1' does not exist — did you mean 'summary'\?/);
    expect(problems('agents:\n  - { name: a, operation: think, config: { prompt: "prompt://summary@7" } }\n')[0]).toMatch(/component 'summary' has no version '7' \(versions: 1, v2\)/);
    expect(problems('agents:\n  - { name: a, operation: think, config: { prompt: "Hello {{input.name}}" } }\n')[0]).toMatch(/\{\{input.name\}\} would be sent as it is.*write \$\{input.name\}/);
    expect(problems('agents:\n  - { name: a, operation: think, config: { prompt: "template://layout@v1" } }\n')[0]).toMatch(/one of conductor's component references, which would be sent as it is/);
    expect(problems('agents:\n  - { name: a, operation: think, config: { prompt: "prompts/summary@v1" } }\n')[0]).toMatch(/one of conductor's component references/);
    // {{audience}} is not in the step's input: the component cannot be rendered.
    expect(problems('agents:\n  - { name: a, operation: think, config: { prompt: "prompt://summary@2" }, input: { text: x, words: 3 } }\n')[0]).toMatch(/reads 'audience', which the step's input does not give \(its keys: text, words\)/);
    // A component cannot read env (secrets) or other steps.
    expect(problems('agents:\n  - { name: a, operation: think, config: { prompt: "prompt://leak" }, input: { x: 1 } }\n', { 'prompts/leak.md': 'key: {{env.OPENAI_API_KEY}}' })[0]).toMatch(/reads 'env'/);
    expect(problems('agents:\n  - { name: a, operation: think, config: { prompt: "prompt://blocks" }, input: { x: 1 } }\n', { 'prompts/blocks.md': '{{#each x}}y{{/each}}' })[0]).toMatch(/Handlebars block or partial, which is not supported/);
    // A dynamic reference cannot be resolved when the ensemble loads.
    expect(problems('agents:\n  - { name: a, operation: think, config: { prompt: "prompt://summary@${input.v}" } }\n')[0]).toMatch(/resolved when the ensemble loads/);
  });

  it('fails the step, sending nothing, when a placeholder has no value in the input', async () => {
    const app = appWith({ x: 'agents:\n  - { name: a, operation: think, config: { provider: openai, prompt: "prompt://summary@1" }, input: { text: "${input.missing}" } }\n' }, scripts, libraryFiles);
    const before = (await received('/openai')).length;
    const { status, body } = await app.run('x', {});
    expect(status).toBe(422);
    expect(body.steps[0]).toMatchObject({ status: 'failed', error: { code: 'COMPONENT_VALUE_MISSING' } });
    expect((await received('/openai')).length).toBe(before);
  });
});

describe("conductor's spellings of keys", () => {
  it('runs keys.yaml: input defaults, when, think prompt, D1 database/query, retry strategy, timeout fallback, cache', async () => {
    const app = appWith({ 'keys-demo': keysFixture }, scripts);
    const first = await app.run('keys-demo', { id: 'k1', limit: 2 });
    expect(first.status).toBe(200);
    const steps = Object.fromEntries(first.body.steps.map((s: { name: string }) => [s.name, s]));
    // input defaults merged under the request's input (limit 2 from the request, greeting from the file).
    expect(steps.lookup.output).toEqual({ rows: [], count: 0 });
    expect(steps['call-api']).toMatchObject({ status: 'completed', attempts: 3 });
    expect(steps.slow).toMatchObject({ status: 'completed', timedOut: true, output: { result: 'default', late: true } });
    expect(steps.cached).toMatchObject({ status: 'completed' });
    expect(steps.cached.cached).toBeUndefined();
    const sent = await promptsSent();
    expect(sent.at(-1)).toBe('hello, write 2 lines');
    // The same input again: the cached output, without a request.
    const before = (await received('/echo/k1')).length;
    const second = await app.run('keys-demo', { id: 'k1', limit: 0 });
    const again = Object.fromEntries(second.body.steps.map((s: { name: string }) => [s.name, s]));
    expect(again.cached).toMatchObject({ status: 'completed', cached: true, output: steps.cached.output });
    expect((await received('/echo/k1')).length).toBe(before);
    // `when: ${input.limit > 1}` is the condition.
    expect(again.draft.status).toBe('skipped');
    const shown = (await (await app.request('/ensembles/keys-demo', { headers: auth })).json()) as any;
    expect(shown.version).toBe('1.2.0');
    expect(shown.inputs).toMatchObject({ greeting: { default: 'hello' }, limit: { default: 3 } });
  });

  it('a retryOn list retries only the failures it names', async () => {
    const app = appWith({ x: 'agents:\n  - { name: a, operation: http, config: { url: "${env.RECEIVER}/status/404" }, retry: { attempts: 3, backoff: fixed, initialDelay: 1, retryOn: [503] } }\n' });
    const { body } = await app.run('x', {});
    expect(body.steps[0]).toMatchObject({ status: 'failed', error: { code: 'HTTP_ERROR' } });
    expect(body.steps[0].attempts).toBeUndefined();
  });

  it('refuses the keys it does not have, one problem each', () => {
    const p = problems(`name: x
scoring: { enabled: true }
memory: { enabled: true }
agents:
  - { name: a, member: greet }
  - { name: b, operation: code, config: { script: greet }, onTimeout: { error: true } }
  - { name: c, agent: hitl, timeout: 5000, inputs: { prompt: ok?, approvers: [a@b.c] } }
  - { name: d, operation: code, config: { script: greet }, cache: { ttl: 5 } }
  - { name: e, operation: code, config: { script: greet }, retry: { attempts: 2, maxAttempts: 2 } }
`);
    expect(p).toEqual(expect.arrayContaining([
      expect.stringMatching(/:2:1: 'scoring:' is a conductor feature this runtime does not support/),
      expect.stringMatching(/:3:1: 'memory:' is a conductor feature/),
      expect.stringMatching(/:5:16: 'member:' is conductor's old name for an agent: write `agent:`/),
      expect.stringMatching(/:6:.*`onTimeout` needs a `timeout` on the step/),
      expect.stringMatching(/:7:.*'timeout' is for operation steps \(a hitl step's timeout is `config.timeout`\)/),
      expect.stringMatching(/:8:/),
      expect.stringMatching(/:9:.*retry needs `attempts` \(or `maxAttempts`\), once/),
    ]));
  });

  it('D1 database names other than d1 are one problem', () => {
    expect(problems('agents:\n  - { name: a, operation: data, config: { database: vectorize, query: "x" } }\n')[0]).toMatch(/database 'vectorize' is not available here/);
  });
});

describe('output blocks', () => {
  it('answers with the status, headers and body of the first block whose `when` holds', async () => {
    const app = appWith({ 'output-blocks-demo': outputBlocksFixture }, scripts);
    const post = (amount: number) => app.request('/ensembles/output-blocks-demo', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ amount }) });
    const over = await post(500);
    expect(over.status).toBe(402);
    expect(over.headers.get('x-reason')).toBe('over-limit');
    expect(over.headers.get('x-execution-id')).toMatch(/^exe_/);
    expect(await over.json()).toEqual({ error: 'payment required', amount: 500 });
    const ok = await post(5);
    expect(ok.status).toBe(201);
    expect(await ok.json()).toEqual({ ok: true, greeting: 'Hello, 5.' });
    // Our own errors keep our envelope.
    const bad = await app.request('/ensembles/output-blocks-demo', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ amount: 'x' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBeDefined();
  });

  it("refuses headers that are the Worker's own, cookies, and statuses without a body", () => {
    const p = problems(`agents:\n  - { name: a, operation: code, config: { script: greet } }\noutput:\n  - status: 204\n    headers: { set-cookie: "s=1", "bad name": x }\n    body: {}\n  - status: 200\n    redirect: { url: /x }\n    body: {}\n`);
    expect(p).toEqual(expect.arrayContaining([
      expect.stringMatching(/status` is a number from 200 to 599 \(not 204/),
      expect.stringMatching(/cannot set the 'set-cookie' header/),
      expect.stringMatching(/'bad name' is not a header name/),
      expect.stringMatching(/'redirect:' in an output block is not supported/),
    ]));
  });

  it('fails the output (not the server) when a rendered header holds a line break', async () => {
    const app = appWith({ x: 'agents:\n  - { name: a, operation: code, config: { script: greet }, input: { name: x } }\noutput:\n  - status: 200\n    headers: { x-note: "${input.note}" }\n    body: { ok: true }\n' }, scripts);
    const { status, body } = await app.run('x', { note: 'a\r\nset-cookie: s=1' });
    expect(status).toBe(422);
    expect(body.error.details.code).toBe('OUTPUT_HEADERS');
  });
});

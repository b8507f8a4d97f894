import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { appWith, received } from './helpers';
import { EnsembleRegistry } from '../../src/ensemble/registry';
import { advance } from '../../src/runtime/interpreter';
import { stepKinds } from '../../src/kinds';

describe('think', () => {
  it('a JSON reply (fenced or bare) is an object; text stays text; output: json and schema are enforced', async () => {
    const { run } = appWith({ t: `agents:
  - name: risk
    operation: think
    config: { prompt: "Assess risk for \${input.tx}", temperature: 0, maxTokens: 50, system: Be brief }
  - name: bare
    operation: think
    config: { prompt: Reply in JSON please, output: json, schema: { type: object, required: [echo], properties: { echo: { type: string } } } }
  - name: text
    operation: think
    config: { prompt: "Say {hi}", output: text }
output:
  low: \${risk.output.risk_score < 0.3}
  echo: \${bare.output.echo}
  text: \${text.output}
` });
    const { status, body } = await run('t', { tx: { amount: 10 } });
    expect(status).toBe(200);
    expect(body.output).toEqual({ low: true, echo: 'Reply in JSON please', text: 'Draft: Say {hi}' });
    const calls = (await received('/openai/v1/chat/completions')).filter((r) => r.body.includes('Reply in JSON please') || r.body.includes('Be brief'));
    const riskCall = calls.find((c) => c.body.includes('Be brief'))!;
    expect(riskCall.json).toMatchObject({ model: 'gpt-4o-mini', temperature: 0, max_tokens: 50, messages: [{ role: 'system', content: 'Be brief' }, { role: 'user', content: 'Assess risk for {"amount":10}' }] });
    expect(calls.find((c) => c.body.includes('Reply in JSON please'))!.json.response_format).toEqual({ type: 'json_object' });
  });

  it('fails clearly when the reply breaks output: json or the schema', async () => {
    const { run } = appWith({ bad: `agents:
  - name: a
    operation: think
    config: { prompt: Reply with invalid JSON, output: json }
`, schema: `agents:
  - name: a
    operation: think
    config: { prompt: Reply in JSON, schema: { type: object, required: [missing], properties: { missing: { type: string } } } }
` });
    const bad = await run('bad');
    expect(bad.body.error.details).toMatchObject({ step: 'a', code: 'MODEL_OUTPUT_INVALID' });
    const schema = await run('schema');
    expect(schema.body.error.details.code).toBe('MODEL_OUTPUT_INVALID');
    expect(schema.body.error.details.message).toContain('missing');
  });

  it('talks to Anthropic when asked', async () => {
    const { run } = appWith({ a: `agents:
  - name: a
    operation: think
    config: { provider: anthropic, prompt: "Anthropic \${input.n}", model: claude-test }
` });
    const { body } = await run('a', { n: 7 });
    expect(body.output.a).toBe('Draft: Anthropic 7');
    const call = (await received('/anthropic/v1/messages')).find((r) => r.body.includes('Anthropic 7'))!;
    expect(call.headers['x-api-key']).toBe('ak-local-test');
    expect(call.headers['anthropic-version']).toBe('2023-06-01');
    expect(call.json).toMatchObject({ model: 'claude-test', max_tokens: 1024, messages: [{ role: 'user', content: 'Anthropic 7' }] });
  });

  it('says how to configure a provider when none is', async () => {
    const registry = new EnsembleRegistry([{ file: 'ensembles/n.yaml', source: 'agents:\n  - name: a\n    operation: think\n    config: { prompt: hi }\n', hash: 'n' }], {}, stepKinds);
    const bare = { ...env, OPENAI_API_KEY: undefined, ANTHROPIC_API_KEY: undefined, THINK_PROVIDER: undefined };
    const state = await advance(registry.get('n'), { executionId: 'exe_x', ensemble: 'n', hash: 'n', input: {}, startedAt: '', status: 'running', cursor: 0, steps: [] }, { env: bare, scripts: {}, kinds: stepKinds });
    expect(state.error).toMatchObject({ step: 'a', code: 'NO_MODEL_PROVIDER' });
    expect(state.error!.message).toContain('OPENAI_API_KEY');
  });
});

describe('email', () => {
  it('sends through MailChannels as the spec writes it', async () => {
    const subject = `Hello ${crypto.randomUUID()}`;
    const { run } = appWith({ e: `agents:
  - name: mail
    operation: email
    config:
      to: \${env.ESCALATION_EMAIL}
      subject: "${subject}"
      body: |
        Line for \${input.who}
` });
    const { body } = await run('e', { who: 'ops' });
    expect(body.output.mail).toEqual({ sent: true, to: ['escalations@example.com'], subject });
    const mail = (await received('/mailchannels/send')).find((r) => r.json.subject === subject)!;
    expect(mail.headers['x-api-key']).toBe('mc-test-key');
    expect(mail.json).toMatchObject({ personalizations: [{ to: [{ email: 'escalations@example.com' }] }], from: { email: 'hitl@example.com', name: 'Approvals' }, content: [{ type: 'text/plain', value: 'Line for ops\n' }] });
  });

  it('refuses a missing or malformed address', async () => {
    const { run } = appWith({ e: `agents:\n  - name: m\n    operation: email\n    config: { to: "\${input.nope}", subject: x }\n` });
    const missing = (await run('e')).body.error.details;
    expect(missing).toMatchObject({ step: 'm', code: 'INVALID_CONFIG' });
    expect(missing.message).toContain('to:');
    const { run: run2 } = appWith({ e: `agents:\n  - name: m\n    operation: email\n    config: { to: [ok@example.com, not-an-address], subject: x }\n` });
    expect((await run2('e')).body.error.details).toMatchObject({ step: 'm', code: 'EMAIL_INVALID', message: 'email: not an email address: not-an-address' });
  });
});

describe('data', () => {
  it('D1: execute, query and first against the migrated local database', async () => {
    const tag = crypto.randomUUID();
    const { run } = appWith({ d: `agents:
  - name: insert
    operation: data
    config: { backend: d1, binding: DB, operation: execute, sql: "INSERT INTO rejections (data, reason, timestamp) VALUES (?, ?, ?)", params: [\${input.doc}, "${tag}", \${now()}] }
  - name: all
    operation: data
    config: { sql: "SELECT reason FROM rejections WHERE reason = ?", params: ["${tag}"] }
  - name: one
    operation: data
    config: { operation: first, sql: "SELECT data FROM rejections WHERE id = ?", params: [\${insert.output.lastRowId}] }
` });
    const { status, body } = await run('d', { doc: { a: [1, 2] } });
    expect(status).toBe(200);
    expect(body.output.insert).toMatchObject({ success: true, changes: 1 });
    expect(body.output.all).toEqual({ rows: [{ reason: tag }], count: 1 });
    expect(body.output.one).toEqual({ data: '{"a":[1,2]}' });
  });

  it('KV: put, get, list, delete', async () => {
    const key = `k-${crypto.randomUUID()}`;
    const { run } = appWith({ k: `agents:
  - name: put
    operation: data
    config: { backend: kv, operation: put, key: "${key}", value: { n: \${input.n} } }
  - name: get
    operation: data
    config: { backend: kv, operation: get, key: "${key}" }
  - name: list
    operation: data
    config: { backend: kv, operation: list, prefix: "${key}" }
  - name: del
    operation: data
    config: { backend: kv, operation: delete, key: "${key}" }
  - name: gone
    operation: data
    config: { backend: kv, operation: get, key: "${key}" }
` });
    const { body } = await run('k', { n: 5 });
    expect(body.output).toMatchObject({ put: { ok: true }, get: { n: 5 }, list: { keys: [key], complete: true }, del: { ok: true } });
    expect(body.output.gone).toBeNull();
    expect(body.steps.find((s: any) => s.name === 'gone')).toMatchObject({ status: 'completed', output: null });
    expect(await env.KV!.get(key)).toBeNull();
  });

  it('SQL errors and unknown bindings fail the step clearly; bad static config fails at load', async () => {
    const { run, registry } = appWith({ s: `agents:\n  - name: q\n    operation: data\n    config: { sql: "SELECT * FROM nope" }\n`, b: `agents:\n  - name: q\n    operation: data\n    config: { binding: NOPE, sql: "SELECT 1" }\n`, l: `agents:\n  - name: q\n    operation: data\n    config: { backend: kv, operation: fetch, colour: red }\n` });
    expect((await run('s')).body.error.details).toMatchObject({ step: 'q', code: 'SQL_ERROR' });
    expect((await run('b')).body.error.details).toMatchObject({ code: 'BINDING_MISSING', message: expect.stringContaining("'NOPE'") });
    const problems = registry.list().find((e) => e.name === 'l')!.problems.map((p) => p.message);
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining('operation'), "unknown config key 'colour' for a kv data step (expected one of: backend, binding, operation, key, value, ttl, prefix, limit, type)"]));
  });
});

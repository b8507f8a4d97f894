import { describe, expect, it } from 'vitest';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { env } from 'cloudflare:test';
import { appWith, auth } from './helpers';
import { hitlApp, hitsAt, received, requestSpecOf, storedRun, suspend, tokenOf } from './hitl-helpers';
import { publicEnvNames } from '../../src/runtime/env-secrets';
import { stepKinds } from '../../src/kinds';

// PARTNER_TOKEN is a test secret (not in wrangler.toml [vars], not in HITL_PUBLIC_VARS).
const TOKEN = 'partner-token-4f1c9e2b7a';

describe('secrets stay secret', () => {
  it('env as a whole, and the credentials of this Worker, cannot be read by an ensemble (load-time problems)', () => {
    const r = loadEnsemble({ file: 'ensembles/s.yaml', source: `agents:
  - name: a
    operation: http
    config:
      url: "\${env.RECEIVER}/x"
      body: { all: "\${env}", json: "\${JSON.stringify(env)}", some: "\${env[input.name]}", key: "\${env.API_KEY}", hook: "$env.HITL_WEBHOOK_SECRET", mail: "\${env.MAILCHANNELS_API_KEY}", slack: "\${env.SLACK_SIGNING_SECRET}", model: "\${env.OPENAI_API_KEY}" }
` }, { kinds: stepKinds, scripts: new Set() });
    expect(r.ok ? [] : r.problems.map(formatProblem)).toEqual([
      'ensembles/s.yaml:6:23: env can only be read by name (`env.NAME`): the whole of env would include every secret',
      'ensembles/s.yaml:6:54: env can only be read by name (`env.NAME`): the whole of env would include every secret',
      'ensembles/s.yaml:6:71: env can only be read by name (`env.NAME`): the whole of env would include every secret',
      'ensembles/s.yaml:6:102: env.API_KEY is a credential of this Worker and cannot be read by an ensemble',
      'ensembles/s.yaml:6:119: env.HITL_WEBHOOK_SECRET is a credential of this Worker and cannot be read by an ensemble',
      'ensembles/s.yaml:6:160: env.MAILCHANNELS_API_KEY is a credential of this Worker and cannot be read by an ensemble',
      'ensembles/s.yaml:6:198: env.SLACK_SIGNING_SECRET is a credential of this Worker and cannot be read by an ensemble',
      'ensembles/s.yaml:6:236: env.OPENAI_API_KEY is a credential of this Worker and cannot be read by an ensemble',
    ]);
  });

  it('a secret works in an http url and header; an endpoint that echoes it gets [redacted] in the result', async () => {
    const path = `/echo-${crypto.randomUUID()}`;
    const app = appWith({ partner: `agents:
  - name: call
    operation: http
    config:
      url: "\${env.RECEIVER}${path}/\${env.PARTNER_TOKEN}"
      headers: { authorization: "Bearer \${env.PARTNER_TOKEN}" }
      body: { note: plain }
` });
    const res = await app.run('partner');
    expect(res.status).toBe(200);
    const [hit] = await received(path);
    expect(hit.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(hit.path).toBe(`${path}/${TOKEN}`);
    expect(JSON.stringify(res.body)).not.toContain(TOKEN);
    expect(res.body.output.call.body.path).toBe(`${path}/[redacted]`);
  });

  // The leaks: a secret changed by a method, joined, sliced, or put in a subject line, a
  // prompt, data, metadata, a form default, a step input, a condition or the output. Each is a
  // load problem naming the setting that would make the name public; none of them runs.
  it('a secret anywhere but a credential field, or changed in any way, is a load problem, and nothing runs', async () => {
    const source = `agents:
  - name: call
    operation: http
    condition: \${env.PARTNER_TOKEN.length > 3}
    config:
      url: "\${env.RECEIVER}/x"
      headers: { a: "\${env.PARTNER_TOKEN.toUpperCase()}", b: "\${env.PARTNER_TOKEN.slice(0, 5)}\${env.PARTNER_TOKEN.slice(5)}", c: "\${[env.PARTNER_TOKEN].join(' ')}" }
      body: { token: "\${env.PARTNER_TOKEN}" }
    input: { t: "$env.PARTNER_TOKEN" }
  - name: approve
    agent: hitl
    inputs:
      prompt: "Uses \${env.PARTNER_TOKEN}"
      data: { key: "\${env.PARTNER_TOKEN}" }
      metadata: { k: "\${env.PARTNER_TOKEN}" }
      form: { note: { type: string, default: "\${env.PARTNER_TOKEN}" } }
    config:
      notificationChannel: email
      notificationConfig: { subject: "Subj \${env.PARTNER_TOKEN}", to: a@example.com, webhookUrl: "\${env.RECEIVER}/\${env.PARTNER_TOKEN}/\${input.who}" }
output: { echoed: "\${env.PARTNER_TOKEN.split('').join(' ')}" }
`;
    const r = loadEnsemble({ file: 'ensembles/leak.yaml', source }, { kinds: stepKinds, scripts: new Set(), publicEnv: publicEnvNames(env) });
    const problems = r.ok ? [] : r.problems.map(formatProblem);
    const at = (line: number) => problems.filter((p) => p.startsWith(`ensembles/leak.yaml:${line}:`));
    // Content positions: the condition, the body, the input, prompt, data, metadata, form default, subject, output.
    for (const line of [4, 8, 9, 13, 14, 15, 16, 19, 20]) {
      expect(at(line).some((p) => /env\.PARTNER_TOKEN is a secret, and a secret can be used only where the Worker itself consumes it .* list it in HITL_PUBLIC_VARS/.test(p)), `line ${line}: ${problems.join('\n')}`).toBe(true);
    }
    // Credential fields, but the secret changed: upper-cased, sliced, joined.
    expect(at(7).filter((p) => /use it as it is/.test(p))).toHaveLength(4);
    // A webhook URL kept as written may read env alone.
    expect(at(19).some((p) => /webhookUrl uses a secret, so it is built from env alone .* 'input' cannot be read/.test(p))).toBe(true);
    // Through the API: 422 with every problem, and the secret in none of them.
    const app = appWith({ leak: source });
    const res = await app.run('leak', { who: 'x' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('ENSEMBLE_INVALID');
    expect(JSON.stringify(res.body)).not.toContain(TOKEN);
    expect(JSON.stringify(res.body).toUpperCase()).not.toContain(TOKEN.toUpperCase());
  });

  it('a secret in a webhook URL is stored as written and completed only when the notification is sent', async () => {
    const hook = `/sec-${crypto.randomUUID()}`;
    const app = hitlApp('hooked', `agents:
  - name: approve
    agent: hitl
    inputs: { data: { amount: 5 }, prompt: "Pay?", approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}/\${env.PARTNER_TOKEN}" } }
`);
    const id = await suspend(app, 'hooked');
    const [hit] = await hitsAt(`${hook}/${TOKEN}`, 1);
    expect(hit.json.approvalData).toEqual({ amount: 5 });
    const stored = await storedRun(id);
    expect(JSON.stringify(stored)).not.toContain(TOKEN);
    const spec = await requestSpecOf(id);
    expect(spec.writtenCredentials.webhookUrl).toEqual([{ expr: 'env.RECEIVER' }, `${hook}/`, { expr: 'env.PARTNER_TOKEN' }]);
    expect(JSON.stringify(spec)).not.toContain(TOKEN);
    // Re-sent later (another isolate would do the same): completed again from env.
    expect((await app.request(`/executions/${id}/notify`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    await hitsAt(`${hook}/${TOKEN}`, 2);
    const token = tokenOf(hit.json.approvers[0].callbackUrl);
    expect(JSON.stringify((await app.inspect(token)).body)).not.toContain(TOKEN);
    expect(JSON.stringify(await app.audit(id))).not.toContain(TOKEN);
    expect(JSON.stringify(await (await app.request(`/executions/${id}`, { headers: auth })).json())).not.toContain(TOKEN);
  });

  it('a secret that is a whole URL is redacted also where an endpoint echoes only its path', async () => {
    const app = appWith({ hooked: `agents:\n  - name: call\n    operation: http\n    config: { url: "\${env.PARTNER_HOOK}", body: { hi: 1 } }\n` });
    const res = await app.run('hooked');
    expect(res.status).toBe(200);
    expect(res.body.output.call.body.path).toBe('[redacted]');
    expect(JSON.stringify(res.body)).not.toContain('T0SECRET');
  });

  it('literal text in a stored webhookUrl stays literal when the URL is completed ($${...} is never evaluated)', async () => {
    const hook = `/lit-${crypto.randomUUID()}`;
    const app = hitlApp('literal', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: "Pay?", approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}/\${env.PARTNER_TOKEN}?lit=$\${JSON.stringify(env)}" } }
`);
    await suspend(app, 'literal');
    const [hit] = await hitsAt(`${hook}/${TOKEN}`, 1);
    expect(decodeURIComponent(hit.path)).toBe(`${hook}/${TOKEN}?lit=\${JSON.stringify(env)}`);
  });

  it("an http step that uses a secret sends it only to a host written in the file, never one the run's input names", () => {
    const load = (url: string) => {
      const r = loadEnsemble({ file: 'ensembles/d.yaml', source: `agents:\n  - name: call\n    operation: http\n    config:\n      url: "${url}"\n      headers: { authorization: "Bearer \${env.PARTNER_TOKEN}" }\n` }, { kinds: stepKinds, scripts: new Set(), publicEnv: publicEnvNames(env) });
      return r.ok ? [] : r.problems.map((p) => p.message);
    };
    for (const url of ['\${input.base}/orders', 'https://\${input.host}/orders', '\${input.scheme}://api.example.com/x', 'https://api.example.com\${input.path}']) {
      expect(load(url), url).toEqual([expect.stringMatching(/config\.url decides where this step's secrets are sent, so its scheme and host come from the file/)]);
    }
    for (const url of ['https://api.example.com/orders/\${input.id}', '\${env.RECEIVER}/orders/\${input.id}?q=\${input.q}', 'https://api.example.com/x']) {
      expect(load(url), url).toEqual([]);
    }
  });

  // The readable env is built once per env and shared by every step: a script that writes to its
  // copy must neither fail nor change what later steps and later runs read.
  it('a script that changes its env changes nothing for later steps or runs', async () => {
    const name = `envcopy-${crypto.randomUUID().slice(0, 8)}`;
    const seen: unknown[] = [];
    const app = appWith({ [name]: `agents:
  - name: a
    operation: code
    config: { script: meddle }
  - name: b
    operation: code
    config: { script: meddle }
` }, { meddle: { default: (ctx: { env: Record<string, string> }) => { seen.push(ctx.env.MEDDLED ?? null); ctx.env.MEDDLED = 'yes'; return { ok: true }; } } });
    for (let i = 0; i < 2; i++) expect((await app.run(name)).body.status).toBe('completed');
    expect(seen).toEqual([null, null, null, null]);
  });
});


import { describe, expect, it } from 'vitest';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { appWith } from './helpers';
import { hitlApp, hitsAt, received, suspend, tokenOf } from './hitl-helpers';

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
` }, { scripts: new Set() });
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

  it('another secret works in a header and is [redacted] in the result, even when the endpoint echoes it', async () => {
    const path = `/echo-${crypto.randomUUID()}`;
    const app = appWith({ partner: `agents:
  - name: call
    operation: http
    config:
      url: "\${env.RECEIVER}${path}"
      headers: { authorization: "Bearer \${env.PARTNER_TOKEN}" }
      body: { token: "\${env.PARTNER_TOKEN}", note: "sent with \${env.PARTNER_TOKEN}" }
` });
    const res = await app.run('partner');
    expect(res.status).toBe(200);
    const [hit] = await received(path);
    expect(hit.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(hit.json).toEqual({ token: TOKEN, note: `sent with ${TOKEN}` });
    expect(JSON.stringify(res.body)).not.toContain(TOKEN);
    expect(res.body.output.call.body.body).toEqual({ token: '[redacted]', note: 'sent with [redacted]' });
  });

  it('a secret in approval data is redacted in the stored run, the notification, the review link and the audit', async () => {
    const hook = `/sec-${crypto.randomUUID()}`;
    const app = hitlApp('leaky', `agents:
  - name: approve
    agent: hitl
    inputs: { data: { key: "\${env.PARTNER_TOKEN}" }, prompt: "Uses \${env.PARTNER_TOKEN}", approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
output: { echoed: "\${env.PARTNER_TOKEN}" }
`);
    const id = await suspend(app, 'leaky');
    const [hit] = await hitsAt(hook, 1);
    expect(hit.body).not.toContain(TOKEN);
    expect(hit.json.approvalData).toEqual({ key: '[redacted]' });
    const token = tokenOf(hit.json.approvers[0].callbackUrl);
    expect(JSON.stringify((await app.inspect(token)).body)).not.toContain(TOKEN);
    await app.decide(token, { approved: true });
    const done = await app.until(id, 'completed');
    expect(done.output).toEqual({ echoed: '[redacted]' });
    expect(JSON.stringify(done)).not.toContain(TOKEN);
    expect(JSON.stringify(await app.audit(id))).not.toContain(TOKEN);
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


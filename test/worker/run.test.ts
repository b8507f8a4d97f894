import { describe, expect, it } from 'vitest';
import { appWith, received } from './helpers';

const scripts = {
  echo: { default: (ctx: unknown) => ctx },
  boom: { default: () => { throw new Error('script exploded'); } },
  double: { default: (ctx: { input: { n: number } }) => ({ n: ctx.input.n * 2 }) },
};

describe('a run executes steps in order', () => {
  it('skips a step whose condition is false (output null) and maps the ensemble output', async () => {
    const { run } = appWith({
      flow: `inputs:
  n: { type: number, required: true }
agents:
  - name: first
    operation: code
    config: { script: double }
    input: { n: \${input.n} }
  - name: big
    condition: \${first.output.n > 10}
    operation: code
    config: { script: double }
    input: { n: \${first.output.n} }
output:
  result: \${big.output.n ?? first.output.n}
  bigRan: \${big.status === 'completed'}
  summary: "n=\${input.n} doubled=\${first.output}"
`,
    }, scripts);
    const small = await run('flow', { n: 2 });
    expect(small.status).toBe(200);
    expect(small.body).toMatchObject({ status: 'completed', ensemble: 'flow', output: { result: 4, bigRan: false, summary: 'n=2 doubled={"n":4}' } });
    expect(small.body.executionId).toMatch(/^exe_[0-9a-f]{32}$/);
    expect(small.body.steps.map((s: any) => [s.name, s.status, s.output])).toEqual([['first', 'completed', { n: 4 }], ['big', 'skipped', null]]);
    const big = await run('flow', { n: 6 });
    expect(big.body.output).toMatchObject({ result: 24, bigRan: true });
    expect(big.body.steps[1]).toMatchObject({ name: 'big', status: 'completed', input: { n: 12 } });
    expect(typeof big.body.steps[1].durationMs).toBe('number');
    expect(Date.parse(big.body.steps[1].startedAt)).not.toBeNaN();
  });

  it('a code script gets input, config, env, execution and earlier steps', async () => {
    const { run } = appWith({ ctx: `agents:
  - name: a
    operation: code
    config: { script: double }
    input: { n: 1 }
  - name: b
    operation: code
    config: { script: scripts/echo, extra: \${a.output.n} }
    input: { who: \${env.ADMIN_EMAIL} }
` }, scripts);
    const { body } = await run('ctx');
    const ctx = body.output.b;
    expect(ctx.input).toEqual({ who: 'admin@example.com' });
    expect(ctx.config).toEqual({ extra: 2 });
    expect(ctx.env.ADMIN_EMAIL).toBe('admin@example.com');
    expect(ctx.env.API_KEY).toBeUndefined();
    expect(ctx.env.SLACK_SIGNING_SECRET).toBeUndefined();
    expect(ctx.env.SLACK_BOT_TOKEN).toBeUndefined();
    expect(ctx.execution).toMatchObject({ id: body.executionId, ensemble: 'ctx' });
    expect(ctx.steps.a).toEqual({ status: 'completed', input: { n: 1 }, output: { n: 2 }, error: null, executed: true, success: true });
  });

  it('a failing step fails the run with {step, code, message}', async () => {
    const { run } = appWith({ f: `agents:
  - name: ok
    operation: code
    config: { script: double }
    input: { n: 1 }
  - name: bad
    operation: code
    config: { script: boom }
  - name: never
    operation: code
    config: { script: double }
    input: { n: 1 }
` }, scripts);
    const { status, body } = await run('f');
    expect(status).toBe(422);
    expect(body.status).toBe('failed');
    expect(body.error.code).toBe('STEP_FAILED');
    expect(body.error.details).toEqual({ step: 'bad', code: 'STEP_FAILED', message: 'script exploded' });
    expect(body.steps.map((s: any) => s.name)).toEqual(['ok', 'bad']);
  });

  it('onError: continue records the failure and goes on', async () => {
    const { run } = appWith({ c: `agents:
  - name: bad
    operation: code
    config: { script: boom }
    onError: continue
  - name: after
    operation: code
    config: { script: double }
    input: { n: 3 }
output:
  failed: \${bad.status}
  after: \${after.output.n}
` }, scripts);
    const { status, body } = await run('c');
    expect(status).toBe(200);
    expect(body.output).toEqual({ failed: 'failed', after: 6 });
    expect(body.steps[0].error).toEqual({ code: 'STEP_FAILED', message: 'script exploded' });
  });

  it('declared inputs are validated, every problem at once', async () => {
    const { run } = appWith({ i: `inputs:
  topic: { type: string, required: true }
  count: integer
  mode: { type: string, enum: [fast, slow], default: fast }
agents:
  - name: a
    operation: code
    config: { script: echo }
    input: { topic: \${input.topic}, mode: \${input.mode} }
` }, scripts);
    const bad = await run('i', { count: 1.5, mode: 'medium' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_INPUT');
    expect(bad.body.error.details.map((d: any) => d.path).sort()).toEqual(['count', 'mode', 'topic']);
    const good = await run('i', { topic: 't' });
    expect(good.body.output.a.input).toEqual({ topic: 't', mode: 'fast' });
  });

  it('sibling inputs are read by bare name', async () => {
    const { run } = appWith({ s: `agents:
  - name: a
    operation: code
    config: { script: echo }
    inputs:
      minApprovals: \${Math.ceil(approvers.length / 2)}
      approvers: [a@x.io, b@x.io, c@x.io]
` }, scripts);
    expect((await run('s')).body.output.a.input).toEqual({ minApprovals: 2, approvers: ['a@x.io', 'b@x.io', 'c@x.io'] });
  });
});

describe('http operation against a local receiver', () => {
  it('GET without body, POST with a JSON body; output {status, ok, headers, body}', async () => {
    const { run } = appWith({ h: `agents:
  - name: get
    operation: http
    config: { url: "\${env.RECEIVER}/items?q=\${input.q}" }
  - name: post
    operation: http
    config:
      url: \${env.RECEIVER}/publish
      headers: { x-token: abc }
      body: { title: \${input.q}, n: 2 }
` });
    const { status, body } = await run('h', { q: 'edge' });
    expect(status).toBe(200);
    expect(body.output.get).toMatchObject({ status: 200, ok: true, body: { method: 'GET', path: '/items' } });
    expect(body.output.get.headers['content-type']).toBe('application/json');
    expect(body.output.post.body).toEqual({ method: 'POST', path: '/publish', body: { title: 'edge', n: 2 } });
    const publish = await received('/publish');
    expect(publish.at(-1).headers['x-token']).toBe('abc');
    expect(publish.at(-1).headers['content-type']).toBe('application/json');
  });

  it('a non-2xx answer fails the step unless throwOnError is false', async () => {
    const { run } = appWith({ e: `agents:
  - name: soft
    operation: http
    config: { url: "\${env.RECEIVER}/status/404", throwOnError: false }
  - name: hard
    operation: http
    config: { url: "\${env.RECEIVER}/status/400" }
` });
    const { status, body } = await run('e');
    expect(status).toBe(422);
    expect(body.steps[0].output).toMatchObject({ status: 404, ok: false });
    expect(body.error.details).toMatchObject({ step: 'hard', code: 'HTTP_ERROR' });
  });

  it('retries 5xx with backoff (http retries and step retry), and times out', async () => {
    const key = crypto.randomUUID();
    const { run } = appWith({ r: `agents:
  - name: flaky
    operation: http
    config: { url: "\${env.RECEIVER}/flaky/${key}/2", retries: 2, backoff: 10 }
  - name: step-retry
    operation: http
    config: { url: "\${env.RECEIVER}/flaky/${key}-s/1" }
    retry: { attempts: 2, backoff: 10ms }
  - name: slow
    operation: http
    config: { url: "\${env.RECEIVER}/slow/2000", timeout: 100 }
    onError: continue
` });
    const { body } = await run('r');
    expect(body.output.flaky.body).toEqual({ attempt: 3 });
    expect(body.steps[1]).toMatchObject({ status: 'completed', attempts: 2, output: { body: { attempt: 2 } } });
    expect(body.steps[2]).toMatchObject({ status: 'failed', error: { code: 'HTTP_TIMEOUT' } });
  });
});

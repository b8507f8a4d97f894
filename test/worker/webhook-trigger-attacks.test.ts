import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { appWith, auth } from './helpers';
import { sign } from '../../src/triggers/verify';
import * as greet from '../../scripts/greet';

// secrets that are not secret, a signed body re-read
// under an unsigned content type, and delivery ids shared between a public and a signed hook.

const scripts = { greet };
const step = 'agents:\n  - { name: hello, operation: code, config: { script: greet }, input: { name: "${input.name}" } }\n';
const secret = 'whsec_review25_0123456789';
(env as unknown as Record<string, string>).REVIEW25_SECRET = secret;
const uid = () => crypto.randomUUID().slice(0, 8);
const post = (app: ReturnType<typeof appWith>, path: string, body: string, headers: Record<string, string> = {}) =>
  app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const problemsOf = (app: ReturnType<typeof appWith>, name: string) => app.registry.list().find((e) => e.name === name)!.problems.map((p) => p.message);

describe('webhook secrets must be secrets', () => {
  it('a webhook "secret" naming public configuration (PUBLIC_BASE_URL, a [vars] value) is refused at load: anyone could sign with it', async () => {
    const name = `pv-${uid()}`;
    const path = `/hooks/pv-${uid()}`;
    const app = appWith({ [name]: `trigger:\n  - { type: webhook, path: ${path}, auth: { type: hmac-sha256, secret: "$env.PUBLIC_BASE_URL" } }\n${step}` }, scripts);
    // PUBLIC_BASE_URL is configuration (src/secrets.ts CONFIGURATION): it is the Worker's own address.
    const body = JSON.stringify({ name: 'forged' });
    const forged = await post(app, path, body, await sign['hmac-sha256']((env as unknown as Record<string, string>).PUBLIC_BASE_URL!, body));
    expect(forged.status, 'a request signed with the Worker\'s public URL must not start a run').not.toBe(202);
    expect(problemsOf(app, name).join('\n')).toMatch(/secret|public|configuration/i);
  });

  it('a webhook secret naming an infrastructure secret (API_KEY) is refused at load: the third party would hold the API key', () => {
    const name = `infra-${uid()}`;
    const app = appWith({ [name]: `trigger:\n  - { type: webhook, path: /hooks/infra-${uid()}, auth: { type: github, secret: "$env.API_KEY" } }\n${step}` }, scripts);
    expect(problemsOf(app, name).length, 'the API key shared with GitHub as its signing secret').toBeGreaterThan(0);
  });
});

describe('the signed bytes are read as the signer meant them', () => {
  it('a captured Stripe delivery re-sent within the tolerance as a form starts a second run with another input (the event id dedup is skipped)', async () => {
    const name = `st-${uid()}`;
    const path = `/hooks/st-${uid()}`;
    const app = appWith({ [name]: `trigger:\n  - { type: webhook, path: ${path}, auth: { type: stripe, secret: "$env.REVIEW25_SECRET" } }\n${step}` }, scripts);
    // A string inside the event (a customer's description, say) holds `&name=...`.
    const body = JSON.stringify({ id: `evt_${uid()}`, name: 'stripe', description: '&name=mallory&x=' });
    const headers = await sign.stripe(secret, body, Math.floor(Date.now() / 1000));
    const first = await post(app, path, body, headers);
    expect(first.status).toBe(202);
    const firstId = ((await first.json()) as any).executionId;
    // The same signed bytes, the same event, another Content-Type (not covered by the signature).
    const again = await post(app, path, body, { ...headers, 'content-type': 'application/x-www-form-urlencoded' });
    const answer = (await again.json()) as any;
    let shown = JSON.stringify(answer);
    if (again.status === 202 && answer.executionId !== firstId) {
      shown += ` -> ${JSON.stringify(((await (await app.request(`/executions/${answer.executionId}`, { headers: auth })).json()) as any).output)}`;
    }
    // Correct: the redelivery of the same Stripe event names the first run, or the form is refused.
    const held = (again.status === 202 && answer.executionId === firstId) || (again.status >= 400 && again.status < 500);
    expect(held, `second start from one signed event: ${again.status} ${shown}`).toBe(true);
  });
});

describe('delivery ids of one ensemble\'s hooks', () => {
  it('a public hook cannot pre-claim the delivery id of the same ensemble\'s signed GitHub hook', async () => {
    const name = `two-${uid()}`;
    const pub = `/hooks/pub-${uid()}`;
    const gh = `/hooks/gh-${uid()}`;
    const app = appWith({ [name]: `trigger:\n  - { type: webhook, path: ${pub}, public: true }\n  - { type: webhook, path: ${gh}, auth: { type: github, secret: "$env.REVIEW25_SECRET" } }\n${step}` }, scripts);
    const delivery = crypto.randomUUID();
    // Anyone: the public hook, with the GitHub delivery's GUID as its Idempotency-Key.
    const squat = await post(app, pub, JSON.stringify({ name: 'squatter' }), { 'idempotency-key': delivery });
    expect(squat.status).toBe(202);
    const squatId = ((await squat.json()) as any).executionId;
    // GitHub's genuine, signed delivery with that GUID.
    const body = JSON.stringify({ name: 'octocat' });
    const real = await post(app, gh, body, { ...(await sign.github(secret, body)), 'x-github-delivery': delivery });
    const answer = (await real.json()) as any;
    expect(real.status, JSON.stringify(answer)).toBe(202);
    expect(answer.executionId).not.toBe(squatId);
  });
});

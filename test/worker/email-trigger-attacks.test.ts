import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { appWith, auth } from './helpers';
import { receiveEmail } from '../../src/triggers/email';
import * as greet from '../../scripts/greet';

// "never dropped in silence" against a message whose
// Message-ID was used before for other content, and two ensembles receiving one address.

const uid = () => crypto.randomUUID().slice(0, 8);
const subjectStep = 'agents:\n  - { name: hello, operation: code, config: { script: greet }, input: { name: "${input.email.subject}" } }\n';

function message(from: string, to: string, subject: string, messageId: string) {
  const text = `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: ${messageId}\r\nContent-Type: text/plain\r\n\r\nbody of ${subject}\r\n`;
  const m = {
    from, to, headers: new Headers({ 'message-id': messageId }), rawSize: text.length,
    raw: new Response(text).body!,
    rejected: undefined as string | undefined,
    setReject(reason: string) { m.rejected = reason; },
    forward: async () => ({}), reply: async () => ({}),
  };
  return m;
}

async function runsOf(app: ReturnType<typeof appWith>, name: string): Promise<string[]> {
  const listed = (await (await app.request(`/executions?ensemble=${name}`, { headers: auth })).json()) as any;
  return listed.executions.map((e: { executionId: string }) => e.executionId);
}

describe('email', () => {
  it('a second, different message reusing a Message-ID (anyone may write any Message-ID) is rejected or run, never accepted and dropped', async () => {
    const name = `em-${uid()}`;
    const address = `inbox-${uid()}@example.com`;
    const app = appWith({ [name]: `trigger:\n  - { type: email, addresses: ["${address}"] }\n${subjectStep}` }, { greet });
    const mid = `<${uid()}@sender.example>`;
    const first = message('alice@sender.example', address, 'INV-1', mid);
    await receiveEmail(first as never, env, app.registry);
    expect(first.rejected).toBeUndefined();
    expect(await runsOf(app, name)).toHaveLength(1);
    // Another message (another sender, another subject) with the same Message-ID header.
    const second = message('mallory@elsewhere.example', address, 'INV-2 urgent', mid);
    await receiveEmail(second as never, env, app.registry);
    const runs = await runsOf(app, name);
    expect(second.rejected !== undefined || runs.length === 2, `accepted by SMTP, no run started (runs: ${runs.length})`).toBe(true);
  });

  it('one address claimed by two ensembles is a load problem for both (as a webhook path is), not first-come', () => {
    const address = `shared-${uid()}@example.com`;
    const a = `ea-${uid()}`;
    const b = `eb-${uid()}`;
    const app = appWith({
      [a]: `trigger:\n  - { type: email, addresses: ["${address}"] }\n${subjectStep}`,
      [b]: `trigger:\n  - { type: email, addresses: ["${address}"] }\n${subjectStep}`,
    }, { greet });
    const problems = app.registry.list().filter((e) => e.name === a || e.name === b).map((e) => e.problems.length);
    expect(problems).toEqual([1, 1]);
  });
});

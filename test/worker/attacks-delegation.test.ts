import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { hitlApp, hitsAt, suspend, tokenOf } from './hitl-helpers';

// Found in the adversarial review of issue 12 (delegation). Each test asserts the documented behaviour, so it fails while
// the defect exists.

async function open(name: string, inputs: string) {
  const hook = `/${name}-${crypto.randomUUID()}`;
  const app = hitlApp(name, `agents:
  - name: approve
    agent: hitl
    inputs:
      prompt: Sign off
${inputs}
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
  const id = await suspend(app, name);
  const [hit] = await hitsAt(hook, 1);
  const tokens = Object.fromEntries(hit.json.approvers.map((a: any) => [a.approver, tokenOf(a.callbackUrl)])) as Record<string, string>;
  /** The newest link the `n`-th notification (1-based) carries for `who`. */
  const linkIn = async (n: number, who: string) => {
    const hits = await hitsAt(hook, n, id);
    const mine = hits[n - 1].json.approvers.filter((a: any) => a.approver === who);
    return tokenOf(mine.at(-1).callbackUrl);
  };
  return { app, id, hook, tokens, linkIn };
}

describe('review 12: delegation', () => {
  it('a place handed back and forth counts every hand-over toward the chain limit of 3', async () => {
    const { app, tokens, linkIn } = await open('rv12-loop', '      approvers: [a@example.com, b@example.com]\n      minApprovals: 2');
    const one = await app.decide(tokens['a@example.com']!, { delegateTo: 'd@example.com' });
    expect(one.body.delegation.depth).toBe(1);
    const two = await app.decide(await linkIn(2, 'd@example.com'), { delegateTo: 'a@example.com' });
    expect(two.body.delegation.depth).toBe(2);
    const three = await app.decide(await linkIn(3, 'a@example.com'), { delegateTo: 'd@example.com' });
    expect(three.body.delegation.depth).toBe(3);
    // A fourth hand-over of the same place: refused ('chain'), like a straight chain a→d1→d2→d3→d4.
    const four = await app.decide(await linkIn(4, 'd@example.com'), { delegateTo: 'a@example.com' });
    expect(four.body.delegation?.depth).toBeUndefined();
    expect([four.status, four.body.error?.details?.reason]).toEqual([403, 'chain']);
  });

  it('an approver a place was handed back to can decide on their new link\'s page', async () => {
    const { app, tokens, linkIn } = await open('rv12-back', '      approvers: [a@example.com, b@example.com]');
    expect((await app.decide(tokens['a@example.com']!, { delegateTo: 'd@example.com' })).status).toBe(200);
    expect((await app.decide(await linkIn(2, 'd@example.com'), { delegateTo: 'a@example.com' })).status).toBe(200);
    const back = await linkIn(3, 'a@example.com');
    const html = await (await app.request(`/callback/${back}`, { headers: { accept: 'text/html' } })).text();
    // The API lets a decide (a holds the place again), but the page says otherwise and hides the form.
    expect(html).not.toContain('You handed this decision to d@example.com');
    expect(html).toContain('name="approved"');
    expect((await app.decide(back, { approved: true })).status).toBe(200);
  });

  it('reminders go to the approvers who hold a place, not to someone who handed theirs on', async () => {
    const { app, id, hook, tokens } = await open('rv12-remind', '      approvers: [a@example.com, b@example.com]\n      remindAfter: 1');
    expect((await app.decide(tokens['a@example.com']!, { delegateTo: 'd@example.com' })).status).toBe(200);
    await hitsAt(hook, 2, id);
    await new Promise((r) => setTimeout(r, 1100));
    const hits = await hitsAt(hook, 3, id);
    const reminder = hits[2].json;
    expect(reminder.kind).toBe('reminder');
    expect(reminder.approvers.map((a: any) => a.approver).sort()).toEqual(['b@example.com', 'd@example.com']);
  });

  it('refused: delegating to an approver by their Slack id (one person, two places)', async () => {
    await fetch(`${env.RECEIVER}/_slack/users`, { method: 'POST', body: JSON.stringify({ URV12BOB: { email: 'bob@example.com' } }) });
    const { app, tokens } = await open('rv12-alias', '      approvers: [a@example.com, bob@example.com]\n      minApprovals: 2');
    const r = await app.decide(tokens['a@example.com']!, { delegateTo: 'slack:URV12BOB' });
    expect([r.status, r.body.error?.details?.reason]).toEqual([409, 'to-approver']);
  });

  it('one person never approves twice through a delegated Slack-id place (Slack hides their email)', async () => {
    await fetch(`${env.RECEIVER}/_slack/users`, { method: 'POST', body: JSON.stringify({ URV12HID: {} }) });
    const { app, tokens } = await open('rv12-alias2', '      approvers: [a@example.com, bob@example.com]\n      minApprovals: 2');
    // a tries to hand their place to a Slack id Slack will not name: it could be Bob (listed by
    // email), so it is refused rather than risk one person holding two places.
    const handed = await app.decide(tokens['a@example.com']!, { delegateTo: 'slack:URV12HID' });
    expect([handed.status, handed.body.error.code]).toEqual([503, 'IDENTITY_LOOKUP_FAILED']);
    expect((await app.decide(tokens['bob@example.com']!, { approved: true })).body.status).toBe('pending');
  });

  it('refused: delegating to the requester by their Slack id', async () => {
    await fetch(`${env.RECEIVER}/_slack/users`, { method: 'POST', body: JSON.stringify({ URV12REQ: { email: 'req@example.com' } }) });
    const { app, tokens } = await open('rv12-toreq', '      approvers: [a@example.com, b@example.com]\n      requester: req@example.com');
    const r = await app.decide(tokens['a@example.com']!, { delegateTo: 'slack:URV12REQ' });
    expect([r.status, r.body.error?.details?.reason]).toEqual([403, 'to-requester']);
  });

  it('refused delegation attempts by typed names on a shared link are audited up to the cap, like refused decisions', async () => {
    const hook = `/rv12-flood-${crypto.randomUUID()}`;
    const app = hitlApp('rv12-flood', `agents:
  - name: approve
    agent: hitl
    inputs: { prompt: P, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    const id = await suspend(app, 'rv12-flood');
    const [hit] = await hitsAt(hook, 1);
    const shared = tokenOf(hit.json.callbackUrl);
    for (let i = 0; i < 60; i++) {
      const r = await app.decide(shared, { delegateTo: `x${i}@example.com`, reason: 'y'.repeat(5_000) });
      expect(r.body.error.details.reason).toBe('unverified');
    }
    const refused = (await app.audit(id)).filter((e) => e.type === 'delegation-refused');
    expect(refused.length).toBeLessThanOrEqual(50); // LIMITS.refusalsAudited
  });
});

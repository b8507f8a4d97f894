import { describe, expect, it } from 'vitest';
import { hitlApp, hitsAt, suspend, tokenOf } from './hitl-helpers';

// What an approver reads: amounts as they write numbers, which answers are required, and, once
// they decided, what they decided on.

async function open(name: string) {
  const hook = `/rp-${crypto.randomUUID()}`;
  const app = hitlApp(name, `agents:
  - name: approve
    agent: hitl
    inputs:
      prompt: "Pay invoice \${input.number}?"
      data: { amount: \${input.amount}, count: 1234567, vendor: Acme }
      approvers: [lead@example.com]
      form: { po: { type: string, title: PO number, required: true }, note: { type: string } }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
  await suspend(app, name, { number: 'INV-7', amount: 4820.5 });
  const [hit] = await hitsAt(hook, 1);
  return { app, token: tokenOf(hit.json.approvers[0].callbackUrl) };
}

const page = async (app: Awaited<ReturnType<typeof open>>['app'], token: string, language: string) =>
  (await app.request(`/callback/${token}`, { headers: { accept: 'text/html', 'accept-language': language } })).text();

describe('the review page', () => {
  it("shows numbers in the reader's locale, with the exact value on hover", async () => {
    const { app, token } = await open('rp-numbers');
    const en = await page(app, token, 'en-US,en;q=0.9');
    expect(en).toContain('title="4820.5">4,820.50</span>');
    expect(en).toContain('>1,234,567</span>');
    const de = await page(app, token, 'de-DE,de;q=0.8');
    expect(de).toContain('>4.820,50</span>');
    // A header that is not a language falls back to en-US, never an error.
    expect(await page(app, token, '!!, x-not-a-tag-at-all-really-long-value-here')).toContain('4,820.50');
  });

  it('marks required answers as required and the others as optional', async () => {
    const { app, token } = await open('rp-required');
    const html = await page(app, token, 'en');
    expect(html).toMatch(/<label for="f-po">PO number <span class="req">\(required\)<\/span><\/label>/);
    expect(html).toMatch(/<label for="f-note">note <span class="muted">\(optional\)<\/span><\/label>/);
  });

  it('after deciding, the page repeats the decision, the prompt and the data decided on', async () => {
    const { app, token } = await open('rp-after');
    const res = await app.request(`/callback/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', 'accept-language': 'en' },
      body: 'approved=true&response.po=PO-1&reason=within+budget',
    });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('You <strong>approved</strong>');
    expect(html).toContain('Your reason: within budget');
    expect(html).toContain('Pay invoice INV-7?');
    expect(html).toContain('4,820.50');
    expect(html).toContain('Acme');
  });
});

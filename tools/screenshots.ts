// `npm run screenshots`: the review page in each state and the batch page, as approvers see them, for docs/approvals.md,
// and the operator console (docs/deploy.md).
// Starts the Worker (wrangler dev on a copy of the project), a local receiver standing in for
// MailChannels, and Chromium; makes runs in every state; writes docs/screenshots/*.png.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../test/support/browser';
import { projectCopy, startDevServer } from '../test/support/dev-server';
import { startReceiver } from '../test/support/receiver';
import { waitFor } from '../test/support/wait';

const out = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const POST = `# Launch notes

We **ship** on Friday, after the last review. Highlights:

- a review page that puts the decision first
- forms beside the decision
- delegation, and an inbox

See [the docs](https://example.com/docs) for more.`;

async function main() {
  mkdirSync(out, { recursive: true });
  const receiver = await startReceiver();
  const project = projectCopy();
  // A run that expires at once, for the "expired" page.
  writeFileSync(join(project, 'ensembles', 'screenshot-expiry.yaml'), `agents:
  - name: sign-off
    agent: hitl
    inputs: { prompt: Sign off the release?, approvers: ["\${input.editor}"], timeout: 2s, data: { release: "2.4.0" } }
`);
  const server = await startDevServer({
    cwd: project,
    persistTo: mkdtempSync(join(tmpdir(), 'shots-')),
    vars: { MAILCHANNELS_API_KEY: 'mc', MAILCHANNELS_API_URL: `${receiver.url}/mailchannels`, EMAIL_FROM: 'hitl@example.com' },
  });
  const browser = await launchBrowser();
  const api = (path: string, body?: unknown) => fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const run = async (ensemble: string, input: unknown) => {
    const { executionId } = (await (await api(`/ensembles/${ensemble}`, input)).json()) as { executionId: string };
    const mail = await waitFor('the email', () => receiver.received.find((r) => r.path === '/mailchannels' && JSON.stringify(r.json).includes(executionId)));
    return { executionId, link: (mail.json as any).personalizations[0].dynamic_template_data.reviewUrl as string };
  };
  const shoot = async (name: string, url: string, viewport: { width: number; height: number }) => {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(url);
    await page.screenshot({ path: join(out, `${name}.png`) });
    await context.close();
    console.log(`wrote docs/screenshots/${name}.png`);
  };
  const phone = { width: 390, height: 844 };
  const laptop = { width: 1280, height: 800 };
  try {
    const pending = await run('blog-review', { title: 'Launch day', body: POST, editor: 'editor@example.com' });
    await shoot('review-pending-phone', pending.link, phone);
    await shoot('review-pending-laptop', pending.link, laptop);

    const approved = await run('blog-review', { title: 'Launch day', body: POST, editor: 'editor@example.com' });
    await fetch(approved.link, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved: true, response: { rating: 5 }, feedback: 'Great post.' }) });
    await shoot('review-approved-phone', approved.link, phone);

    const rejected = await run('blog-review', { title: 'Launch day', body: POST, editor: 'editor@example.com' });
    await fetch(rejected.link, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved: false, reason: 'Needs a date' }) });
    await shoot('review-rejected-phone', rejected.link, phone);

    const expired = await run('screenshot-expiry', { editor: 'editor@example.com' });
    await waitFor('the expiry', async () => ((await (await api(`/executions/${expired.executionId}`)).json()) as { status: string }).status === 'completed' || undefined, 30_000);
    await shoot('review-expired-phone', expired.link, phone);

    const cancelled = await run('blog-review', { title: 'Launch day', body: POST, editor: 'editor@example.com' });
    await api(`/executions/${cancelled.executionId}/cancel`, { reason: 'superseded' });
    await shoot('review-cancelled-phone', cancelled.link, phone);

    // A batch: twelve invoices for one approver, one link; and the same page after a bulk decision.
    const invoices = Array.from({ length: 12 }, (_, i) => ({ id: `INV-${1040 + i}`, vendor: ['Acme', 'Globex', 'Initech'][i % 3], amount: 120 + i * 37.5 }));
    const batch = await run('invoice-batch', { approver: 'ap@example.com', invoices });
    await shoot('batch-phone', batch.link, phone);
    await shoot('batch-laptop', batch.link, laptop);
    const items = ((await (await fetch(batch.link, { headers: { accept: 'application/json' } })).json()) as { requests: { request: number }[] }).requests;
    await fetch(batch.link, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ decisions: items.slice(0, 9).map((r) => ({ request: r.request, approved: true })) }) });
    await shoot('batch-after-phone', batch.link, phone);

    // The operator console, signed in with the API key: the list, and one run waiting on people.
    const expense = (await (await api('/ensembles/expense-approval', { amount: 4820.5, category: 'travel', manager_email: 'manager@example.com' })).json()) as { executionId: string };
    const consoleShot = async (name: string, path: string, viewport: { width: number; height: number }) => {
      const context = await browser.newContext({ viewport, deviceScaleFactor: 1, extraHTTPHeaders: { authorization: `Bearer ${server.apiKey}` } });
      const page = await context.newPage();
      await page.goto(`${server.url}${path}`);
      await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
      await context.close();
      console.log(`wrote docs/screenshots/${name}.png`);
    };
    await consoleShot('console-laptop', '/admin', laptop);
    await consoleShot('console-run-laptop', `/admin/executions/${expense.executionId}`, laptop);
    await consoleShot('console-run-phone', `/admin/executions/${expense.executionId}`, phone);
  } finally {
    await browser.close();
    await server.stop();
    await receiver.close();
  }
}

await main();

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../support/browser';
import { startDevServer, type DevServer } from '../support/dev-server';
import { startReceiver } from '../support/receiver';
import { waitFor } from '../support/wait';

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let server: DevServer;
let browser: Browser;

const hostile = {
  topic: '<img src=x onerror=alert(1)> & <script>alert("topic")</script>',
  author: '"><svg onload=alert(2)> ✨ Zoë <!channel> {{approveUrl}}',
};

beforeAll(async () => {
  receiver = await startReceiver();
  server = await startDevServer({
    persistTo: mkdtempSync(join(tmpdir(), 'browser-e2e-')),
    vars: {
      SLACK_WEBHOOK_URL: `${receiver.url}/slack`,
      MAILCHANNELS_API_KEY: 'mc-e2e',
      MAILCHANNELS_API_URL: `${receiver.url}/mailchannels`,
      EMAIL_FROM: 'hitl@example.com',
    },
  });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await receiver?.close();
});

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

async function scan(urls: string[]) {
  // What mail and chat scanners do: prefetch every link, with and without a browser's Accept.
  for (const url of urls) {
    for (const method of ['GET', 'HEAD']) {
      for (const accept of ['text/html,application/xhtml+xml', '*/*', 'application/json']) {
        const res = await fetch(url, { method, headers: { accept, 'user-agent': 'LinkScanner/1.0' } });
        expect(res.status).toBe(200);
      }
    }
  }
}

describe('approvers in a real browser', () => {
  it('Slack: the approve button opens a safe review page; submitting it completes the run', async () => {
    const start = await api('/ensembles/slack-approval', { method: 'POST', body: JSON.stringify(hostile) });
    expect(start.status).toBe(202);
    const { executionId } = (await start.json()) as { executionId: string };
    const slack = await waitFor('the Slack message', () => receiver.received.find((r) => r.path === '/slack' && JSON.stringify(r.json).includes(executionId)));
    const buttons = (slack.json as any).blocks.find((b: any) => b.type === 'actions').elements;
    const [approveUrl, rejectUrl, reviewUrl] = buttons.map((b: any) => b.url as string);

    await scan([approveUrl, rejectUrl, reviewUrl]);
    const audit = (await (await api(`/executions/${executionId}/audit`)).json()) as any;
    expect(audit.entries.some((e: any) => e.type === 'decision')).toBe(false);
    expect(((await (await api(`/executions/${executionId}`)).json()) as any).status).toBe('suspended');

    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    const response = await page.goto(approveUrl);
    expect(response!.status()).toBe(200);
    expect(response!.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(response!.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(response!.headers()['referrer-policy']).toBe('no-referrer');
    expect(response!.headers()['cache-control']).toBe('no-store');

    expect(await page.locator('h1').innerText()).toBe('Approval requested');
    const text = await page.locator('body').innerText();
    expect(text).toContain('Review the post about <img src=x onerror=alert(1)> & <script>alert("topic")</script> for:');
    expect(text).toContain(hostile.author);
    expect(text).toContain('You opened the approve link. Nothing is recorded until you press Approve.');
    expect(await page.locator('script, img, svg, iframe').count()).toBe(0);
    expect(await page.locator('button.approve').getAttribute('class')).toContain('chosen');

    // The Slack (incoming webhook) link is shared: the approver types a name, recorded as not verified.
    await page.fill('#approver', 'reviewer@example.com');
    await page.fill('#feedback', 'Looks good <b>really</b>');
    await Promise.all([page.waitForNavigation(), page.click('button.approve')]);
    expect(await page.locator('h1').innerText()).toBe('Decision recorded');
    expect(await page.locator('body').innerText()).toContain('You approved as reviewer@example.com.');
    expect(dialogs).toEqual([]);

    const done = await waitFor('completion', async () => {
      const e = (await (await api(`/executions/${executionId}`)).json()) as any;
      return e.status === 'completed' ? e : undefined;
    });
    expect(done.output.status).toBe('approved');
    expect(done.output.approvals[0]).toMatchObject({ approver: 'reviewer@example.com', feedback: 'Looks good <b>really</b>', verified: false });

    // Back on the used link (a shared link decides once): a friendly page with the right status.
    const again = await page.goto(reviewUrl);
    expect(again!.status()).toBe(409);
    expect(await page.locator('h1').innerText()).toBe('Approved');
    expect(await page.locator('body').innerText()).toContain('This link was used by reviewer@example.com just now.');
    expect(await page.locator('button.approve').count()).toBe(0);
    await page.close();
  });

  it('Email: a personal link shows the bound identity; rejecting with a reason completes the run', async () => {
    const start = await api('/ensembles/expense-approval', {
      method: 'POST',
      body: JSON.stringify({ amount: 99.5, category: '<b>travel</b>', manager_email: 'manager@example.com', receipt_url: 'javascript:alert(3)' }),
    });
    expect(start.status).toBe(202);
    const { executionId } = (await start.json()) as { executionId: string };
    const mail = await waitFor('the email', () => receiver.received.find((r) => r.path === '/mailchannels' && JSON.stringify(r.json).includes(executionId)));
    const links = (mail.json as any).personalizations[0].dynamic_template_data;
    expect((mail.json as any).personalizations[0].to).toEqual([{ email: 'manager@example.com' }]);
    await scan([links.approveUrl, links.rejectUrl, links.reviewUrl]);

    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    await page.goto(links.rejectUrl);
    expect(await page.locator('body').innerText()).toContain('Deciding as manager@example.com.');
    expect(await page.locator('#approver').count()).toBe(0);
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
    await page.fill('#reason', 'No receipt');
    await Promise.all([page.waitForNavigation(), page.click('button.reject')]);
    expect(await page.locator('h1').innerText()).toBe('Decision recorded');
    expect(dialogs).toEqual([]);
    const done = await waitFor('completion', async () => {
      const e = (await (await api(`/executions/${executionId}`)).json()) as any;
      return e.status === 'completed' ? e : undefined;
    });
    expect(done.output).toEqual({ status: 'rejected', approved: false });
    expect(done.steps[0].output.approvals[0]).toMatchObject({ approver: 'manager@example.com', approved: false, reason: 'No receipt', verified: true });
    await page.close();
  });

  it('an unknown link gets a friendly 404 page', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${server.url}/callback/exe_${'0'.repeat(32)}.${'x'.repeat(32)}`);
    expect(res!.status()).toBe(404);
    expect(await page.locator('h1').innerText()).toBe('Link not found');
    await page.close();
  });

  it('the operator console: sign in with the API key, see what waits, open it, re-send, cancel (no JavaScript)', async () => {
    const start = await api('/ensembles/expense-approval', { method: 'POST', body: JSON.stringify({ amount: 77, category: 'books', manager_email: 'ops-boss@example.com' }) });
    const { executionId } = (await start.json()) as { executionId: string };
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${server.url}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.fill('#key', 'not-the-key');
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    expect(await page.locator('body').innerText()).toContain('That is not the API key.');
    await page.fill('#key', server.apiKey);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    expect(await page.locator('h1').first().innerText()).toBe('Waiting for people');
    const row = page.locator('table.pending tr', { hasText: executionId });
    expect(await row.innerText()).toContain('ops-boss@example.com');
    await Promise.all([page.waitForNavigation(), row.locator('a').click()]);
    expect(await page.locator('h1').innerText()).toBe('expense-approval suspended');
    expect(await page.locator('table.audit').innerText()).toContain('suspended');
    // What is being approved, and who has not decided.
    expect(await page.locator('body').innerText()).toContain('not decided yet: ops-boss@example.com');
    expect(await page.locator('button.danger').innerText()).toBe('Cancel run');
    await Promise.all([page.waitForNavigation(), page.click('text=Re-send notifications')]);
    expect(await page.locator('body').innerText()).toContain('Notifications sent again.');
    await page.fill('input[name=reason]', 'wrong amount');
    await Promise.all([page.waitForNavigation(), page.click('text=Cancel run')]);
    expect(await page.locator('h1').innerText()).toBe('expense-approval cancelled');
    expect(await page.locator('table.steps').innerText()).toMatch(/approve-expense\s+cancelled/);
    expect(await page.locator('table.audit').innerText()).toContain('wrong amount');
    await page.screenshot({ path: join(tmpdir(), 'console.png'), fullPage: true });
    await context.close();
  });
});

/** Words of table cells that the browser laid out over more than one line (broken inside the word). */
const brokenWords = () => {
  const broken: string[] = [];
  for (const cell of document.querySelectorAll('table.grid td, table.grid th')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent ?? '';
      for (const m of text.matchAll(/\S+/g)) {
        const range = document.createRange();
        range.setStart(n, m.index!);
        range.setEnd(n, m.index! + m[0].length);
        const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
};

describe('the operator console reads at a glance', () => {
  for (const viewport of [{ width: 390, height: 844 }, { width: 1280, height: 800 }]) {
    it(`at ${viewport.width}×${viewport.height}: no word broken in a table cell, no sideways page scroll, the amount under review shown`, async () => {
      const start = await api('/ensembles/expense-approval', { method: 'POST', body: JSON.stringify({ amount: 4820.5, category: 'conference travel and lodging', manager_email: 'a-rather-long-manager-address@example.com' }) });
      const { executionId } = (await start.json()) as { executionId: string };
      const context = await browser.newContext({ viewport, javaScriptEnabled: false, locale: 'en-US', extraHTTPHeaders: { authorization: `Bearer ${server.apiKey}`, 'accept-language': 'en-US' } });
      const page = await context.newPage();
      for (const path of ['/admin', `/admin/executions/${executionId}`]) {
        await page.goto(`${server.url}${path}`);
        expect(await page.evaluate(brokenWords), path).toEqual([]);
        const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
        expect(scroll, `${path} scrolls sideways`).toBeLessThanOrEqual(width);
      }
      const body = await page.locator('body').innerText();
      expect(body).toContain('4,820.50');
      expect(body).toContain('not decided yet: a-rather-long-manager-address@example.com');
      // Ids are shortened in tables, whole on hover.
      await page.goto(`${server.url}/admin`);
      expect(await page.locator(`span.id[title="${executionId}"]`).first().count()).toBe(1);
      await context.close();
    });
  }
});

/** Markdown an attacker might write into a post: none of it may run, load or link anywhere unsafe. */
const HOSTILE_MARKDOWN = [
  '# Launch notes',
  '',
  'We **ship** on Friday. <script>alert("md")</script> <img src=x onerror=alert(1)>',
  '',
  '[docs](https://example.com/docs) [click me](javascript:alert(2)) [data](data:text/html,<script>alert(3)</script>) [vb](vbscript:msgbox(4))',
  '',
  '![tracker](https://evil.example/pixel.png) <iframe src="https://evil.example"></iframe> <a href="javascript:alert(5)">raw link</a>',
  '',
  '<svg onload=alert(6)></svg> {{approveUrl}} `code <b>x</b>`',
  '',
  ...Array.from({ length: 40 }, (_, i) => `- point ${i + 1}: a line long enough to wrap on a phone screen and push the rest of the page well below the fold`),
].join('\n');

async function blogRun(editor: string) {
  const start = await api('/ensembles/blog-review', { method: 'POST', body: JSON.stringify({ title: 'Launch <b>day</b>', body: HOSTILE_MARKDOWN, editor }) });
  expect(start.status).toBe(202);
  const { executionId } = (await start.json()) as { executionId: string };
  const mail = await waitFor('the email', () => receiver.received.find((r) => r.path === '/mailchannels' && JSON.stringify(r.json).includes(executionId)));
  return { executionId, links: (mail.json as any).personalizations[0].dynamic_template_data as { reviewUrl: string; approveUrl: string } };
}

describe('the review page, decision first, on a phone and a laptop', () => {
  it.each([[360, 740], [1280, 800]])('at %i×%i: Approve and Reject in the first screen, nothing scrolls sideways, Markdown rendered and inert', async (width, height) => {
    const { links } = await blogRun(`editor-${width}@example.com`);
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(links.reviewUrl);
    expect(await page.locator('h1').innerText()).toBe('Approval requested');
    for (const button of ['button.approve', 'button.reject']) {
      const box = (await page.locator(button).boundingBox())!;
      expect(box.y, `${button} top`).toBeGreaterThanOrEqual(0);
      expect(box.y + box.height, `${button} bottom`).toBeLessThanOrEqual(height);
    }
    const { scrollWidth, innerWidth, scrollHeight } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, scrollHeight: document.documentElement.scrollHeight }));
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
    expect(scrollHeight).toBeGreaterThan(height * 2);
    // Rendered: a heading, bold text, a list, a safe link. Inert: nothing that runs, loads or links elsewhere.
    expect(await page.locator('.md h3').innerText()).toBe('Launch notes');
    expect(await page.locator('h1').count()).toBe(1);
    expect(await page.locator('.md strong').first().innerText()).toBe('ship');
    expect(await page.locator('.md li').count()).toBe(40);
    expect(await page.locator('script, img, iframe, svg, object, embed').count()).toBe(0);
    const hrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    // Only http(s) links survive (an image becomes a plain link: nothing is loaded).
    expect(hrefs).toEqual(['https://example.com/docs', 'https://evil.example/pixel.png']);
    expect(await page.locator('.md a').evaluateAll((as) => as.map((a) => a.getAttribute('rel')))).toEqual(['noopener noreferrer nofollow', 'noopener noreferrer nofollow']);
    expect(await page.locator('body').innerText()).toContain('[click me](javascript:alert(2))');
    expect(requests.filter((u) => !u.startsWith(server.url))).toEqual([]);
    expect(dialogs).toEqual([]);
    await context.close();
  });

  it('the form round trip works without JavaScript: rating, corrected title and a checkbox reach the run', async () => {
    const { executionId, links } = await blogRun('form-editor@example.com');
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(links.approveUrl);
    expect(await page.inputValue('#f-title')).toBe('Launch <b>day</b>');
    // Required: the browser will not send the form without a rating.
    await page.click('button.approve');
    expect(page.url()).toBe(links.approveUrl);
    await page.fill('#f-rating', '4');
    await page.fill('#f-title', 'Launch day');
    await page.check('#f-featured');
    await Promise.all([page.waitForNavigation(), page.click('button.approve')]);
    expect(await page.locator('h1').innerText()).toBe('Decision recorded');
    const done = await waitFor('completion', async () => {
      const e = (await (await api(`/executions/${executionId}`)).json()) as any;
      return e.status === 'completed' ? e : undefined;
    });
    expect(done.output).toEqual({ published: true, title: 'Launch day', rating: 4, featured: true });
    await page.goto(links.reviewUrl);
    expect(await page.locator('h1').innerText()).toBe('Approved');
    expect(await page.locator('button.approve').count()).toBe(0);
    await context.close();
  });
});

describe('a batch of approvals on one page', () => {
  const invoices = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `INV-${i + 1}`, vendor: i % 2 ? 'Globex' : 'Acme <b>Ltd</b>', amount: 100 + i }));
  async function batchRun(approver: string, n: number) {
    const start = await api('/ensembles/invoice-batch', { method: 'POST', body: JSON.stringify({ approver, invoices: invoices(n) }) });
    expect(start.status).toBe(202);
    const { executionId } = (await start.json()) as { executionId: string };
    const mails = await waitFor('the one batch email', () => {
      const m = receiver.received.filter((r) => r.path === '/mailchannels' && JSON.stringify(r.json).includes(executionId));
      return m.length ? m : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.filter((r) => r.path === '/mailchannels' && JSON.stringify(r.json).includes(executionId))).toHaveLength(1);
    const link = (mails[0]!.json as any).personalizations[0].dynamic_template_data.reviewUrl as string;
    expect(link).toContain('/callback/batch/');
    return { executionId, link };
  }

  it('20 invoices decided from one page without JavaScript (18 approved at once, the rest one by one), then from the API', async () => {
    const { executionId, link } = await batchRun('batch-ap@example.com', 20);
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(link);
    expect(await page.locator('h1').innerText()).toBe('20 of 20 waiting for you');
    expect(await page.locator('input[type=checkbox][name=request]').count()).toBe(20);
    expect(await page.locator('body').innerText()).toContain('Acme <b>Ltd</b>');
    // Leave the first two for later; approve the other eighteen with one reason.
    const boxes = page.locator('input[type=checkbox][name=request]');
    await boxes.nth(0).uncheck();
    await boxes.nth(1).uncheck();
    await page.fill('#bulk-reason', 'checked against the POs');
    await Promise.all([page.waitForNavigation(), page.click('#bulk button.approve')]);
    expect(await page.locator('h1').innerText()).toBe('18 decided');
    await page.goto(link);
    expect(await page.locator('h1').innerText()).toBe('2 of 20 waiting for you');
    // The first one alone, rejected, from its own form.
    await page.locator('section.item').first().locator('summary').click();
    await Promise.all([page.waitForNavigation(), page.locator('section.item').first().locator('button.reject').click()]);
    expect(await page.locator('h1').innerText()).toBe('1 decided');
    await context.close();
    // The last one from the API, as a custom UI would.
    const view = (await (await fetch(link, { headers: { accept: 'application/json' } })).json()) as any;
    const last = view.requests.filter((r: any) => r.decidable);
    expect(last.map((r: any) => r.step)).toEqual(['each[1]/pay']);
    const posted = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ decisions: [{ request: last[0].request, approved: true }] }) });
    expect(((await posted.json()) as any).results).toEqual([expect.objectContaining({ ok: true, status: 'approved' })]);
    const done = await waitFor('completion', async () => {
      const e = (await (await api(`/executions/${executionId}`)).json()) as any;
      return e.status === 'completed' ? e : undefined;
    });
    expect(done.output.decisions.map((d: any) => d.status)).toEqual(['rejected', ...Array(19).fill('approved')]);
    expect(done.output.decisions[5].approvals[0]).toMatchObject({ approver: 'batch-ap@example.com', via: 'link', reason: 'checked against the POs' });
  }, 120_000);

  it.each([[360, 740], [1280, 800]])('at %i×%i: the bulk buttons in the first screen, nothing scrolls sideways', async (width, height) => {
    const { link } = await batchRun(`batch-${width}@example.com`, 6);
    const context = await browser.newContext({ viewport: { width, height }, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(link);
    for (const button of ['#bulk button.approve', '#bulk button.reject']) {
      const box = (await page.locator(button).boundingBox())!;
      expect(box.y + box.height, `${button} bottom`).toBeLessThanOrEqual(height);
    }
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
    await context.close();
  });
});

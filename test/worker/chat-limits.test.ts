import { describe, expect, it } from 'vitest';
import type { ApprovalNotice } from '../../src/notify/notice';
import { slackMessage } from '../../src/notify/slack';
import { teamsBody, teamsCard, TEAMS_MAX_BYTES } from '../../src/notify/teams';
import { dataText } from '../../src/pages/render-data';

// What Slack and Teams show when user text is long: cut within each limit as the service counts it
// (UTF-16 units for Slack, bytes for Teams), cut before it is escaped so no escape is left half
// written, and Teams' data preview as lines, nested as the data is.

const notice = (over: Partial<ApprovalNotice> = {}): ApprovalNotice => ({
  kind: 'request', executionId: 'exe_1', requestId: 1, status: 'pending', approvals: [], ensemble: 'e', step: 's',
  prompt: 'Check', data: {}, approvers: ['a@example.com'], minApprovals: 1, expiresAt: Date.now() + 60_000,
  shared: { callbackUrl: 'https://w.test/callback/t', approveUrl: 'https://w.test/callback/t?action=approve', rejectUrl: 'https://w.test/callback/t?action=reject' },
  personal: [],
  ...over,
});

/** Slack mrkdwn as a reader sees it: entities decoded, the cut mark and zero-width spaces dropped. */
const shown = (mrkdwn: string) => mrkdwn.replace(/…$/, '').replaceAll('\u200b', '').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
/** Every `&` starts a whole entity: a cut never left `&gt` or `&am` to be shown literally. */
const entitiesWhole = (mrkdwn: string) => !mrkdwn.replace(/&(amp|lt|gt);/g, '').includes('&');
const wellFormed = (text: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
const blocks = (n: ApprovalNotice) => slackMessage(n).blocks as any[];

describe('Slack: long text within the limits, never cut inside an entity', () => {
  it.each([0, 1, 2, 3, 4])('a prompt of markup characters (offset %i) shows as written up to the cut, every entity whole', (offset) => {
    const prompt = `${'x'.repeat(offset)}${'<>&'.repeat(2_000)}`;
    const text: string = blocks(notice({ prompt }))[1].text.text;
    expect(text.length).toBeLessThanOrEqual(3_000);
    expect(text.length).toBeGreaterThan(2_990);
    expect(text.endsWith('…')).toBe(true);
    expect(entitiesWhole(text)).toBe(true);
    const visible = shown(text.replace(/^:bell: /, ''));
    expect(prompt.startsWith(visible)).toBe(true);
  });

  it('counts an emoji as the two UTF-16 units it is: a 3,000-code-point prompt is cut to 3,000 units', () => {
    const prompt = `${'🚀'.repeat(63)}${'a'.repeat(2_937)}`;
    expect(Array.from(prompt)).toHaveLength(3_000);
    expect(prompt.length).toBe(3_063);
    const message = slackMessage(notice({ prompt, ensemble: '🚀'.repeat(100), step: 'review' }));
    const section: string = (message.blocks[1] as any).text.text;
    expect(section.length).toBeLessThanOrEqual(3_000);
    expect(wellFormed(section)).toBe(true);
    const header: string = (message.blocks[0] as any).text.text;
    expect(header.length).toBeLessThanOrEqual(150);
    expect(wellFormed(header)).toBe(true);
    expect(message.text.length).toBeLessThanOrEqual(3_000);
    expect(wellFormed(message.text)).toBe(true);
  });

  it('a metadata field keeps its bold key and fits 2,000 units, its value cut before escaping', () => {
    const fields = blocks(notice({ metadata: { ['&'.repeat(150)]: '>'.repeat(2_000), plain: 'ok' } }))[4].fields;
    const [long, plain] = fields.map((f: { text: string }) => f.text);
    expect(long.length).toBeLessThanOrEqual(2_000);
    expect(entitiesWhole(long)).toBe(true);
    expect(long).toMatch(/^\*(&amp;)+…?\*\n(&gt;)+…$/);
    expect(plain).toBe('*plain*\nok');
  });

  it('a long approver list is cut so the inbox link after it stays whole', () => {
    const approvers = Array.from({ length: 400 }, (_, i) => `Ann <ann${i}@example.com>`);
    const context = blocks(notice({ approvers, inboxUrl: 'https://w.test/inbox' })).find((b) => b.type === 'context' && b.elements[0].text.startsWith('Approvers:'));
    const text: string = context.elements[0].text;
    expect(text.length).toBeLessThanOrEqual(3_000);
    expect(text.endsWith('… · <https://w.test/inbox|Everything waiting on you>')).toBe(true);
    expect(entitiesWhole(text.replace(/ · <https:[^>]+>$/, ''))).toBe(true);
  });

  it('decisions are whole lines within 3,000 units, then how many more there were', () => {
    const approvals = Array.from({ length: 20 }, (_, i) => ({
      approver: `${'<'.repeat(200)}${i}`, approved: i % 2 === 0, timestamp: '2026-01-01T00:00:00Z', verified: true, reason: '&'.repeat(300),
    }));
    const section = blocks(notice({ approvals })).find((b) => b.type === 'section' && b.text?.text.startsWith(':white_check_mark:'));
    const text: string = section.text.text;
    expect(text.length).toBeLessThanOrEqual(3_000);
    expect(entitiesWhole(text)).toBe(true);
    const lines = text.split('\n');
    const more = /^…and (\d+) more$/.exec(lines.at(-1)!);
    expect(more).not.toBeNull();
    const decisions = lines.slice(0, -1);
    expect(decisions.length + Number(more![1])).toBe(20);
    for (const line of decisions) expect(line).toMatch(/^(:white_check_mark:|:x:) (&lt;)+…? \(verified\) — reason: “(&amp;)+…”$/);
  });

  it('the data preview is at most 2,500 UTF-16 units, surrogate pairs whole', () => {
    const text: string = blocks(notice({ data: '😀'.repeat(2_000) }))[3].elements[0].elements[0].text;
    expect(text.length).toBeLessThanOrEqual(2_500);
    expect(wellFormed(text)).toBe(true);
  });
});

/** A Teams line as a reader sees it: Markdown escapes and no-break spaces undone. */
const teamsShown = (text: string) => text.replace(/\\(.)/g, '$1').replaceAll('\u00a0', ' ');
const preview = (card: ReturnType<typeof teamsCard>) => (card.body as any[]).find((b) => b.type === 'Container');

describe('Teams: the data preview as lines, nested as the data is', () => {
  const data = { order: { id: 'A-7', lines: [{ sku: 'K-1', qty: 2 }, { sku: 'K-2', qty: 1 }] }, note: 'first line\nsecond line', total: 12.5 };

  it('shows each line of the data as its own block, indented with spaces that do not collapse', () => {
    const items: { type: string; text: string; fontType?: string }[] = preview(teamsCard(notice({ data }))).items;
    expect(items.every((i) => i.type === 'TextBlock' && i.fontType === 'Monospace' && !/[\r\n]/.test(i.text))).toBe(true);
    expect(items.map((i) => teamsShown(i.text))).toEqual(dataText(data, 3_000).split('\n'));
    // Nesting: a line of a nested value starts with no-break spaces, never with spaces a renderer collapses.
    expect(items.filter((i) => i.text.startsWith('\u00a0\u00a0')).length).toBeGreaterThanOrEqual(5);
    expect(items.some((i) => i.text.startsWith(' '))).toBe(false);
  });

  it('format: json shows the JSON with its indentation', () => {
    const items: { text: string }[] = preview(teamsCard(notice({ data, format: 'json' }))).items;
    expect(items.map((i) => teamsShown(i.text))).toEqual(JSON.stringify(data, null, 2).split('\n'));
  });

  it('a long list is cut to a bounded number of lines, marked, and the card stays under the size limit', () => {
    const body = teamsBody(notice({ data: Array.from({ length: 2_000 }, (_, i) => i) }));
    expect(new TextEncoder().encode(body).length).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    const items: { text: string }[] = preview(JSON.parse(body).attachments[0].content).items;
    expect(items.length).toBeLessThanOrEqual(60);
    expect(items.at(-1)!.text).toBe('…');
  });

  it('text is cut before it is escaped: no fact or line ends inside an escape', () => {
    const card = teamsCard(notice({ prompt: '*'.repeat(5_000), metadata: { k: '_'.repeat(5_000) }, data: { v: '#'.repeat(5_000) } }));
    const facts = (card.body as any[]).find((b) => b.type === 'FactSet').facts as { value: string }[];
    // Odd runs of backslashes before the end would mean an escape cut in half.
    for (const value of [...facts.map((f) => f.value), ...preview(card).items.map((i: { text: string }) => i.text)]) {
      expect(value.replace(/…$/, '')).not.toMatch(/(^|[^\\])(\\\\)*\\$/);
    }
  });
});

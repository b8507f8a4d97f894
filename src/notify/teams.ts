import type { IAdaptiveCard, IContainer, IFact, IOpenUrlAction, ITextBlock } from '@microsoft/teams.cards';
import { NotifyError, postJson, type NotificationChannel } from './channel';
import { noticeHeading, type ApprovalNotice } from './notice';
import { dataText } from '../pages/render-data';
import { oneLine, prettyJson, truncate, wellFormed } from './escape';

/**
 * Microsoft Teams: an Adaptive Card posted to a Teams incoming webhook (or a Workflows "post to a
 * channel when a webhook request is received" URL), `notificationConfig.webhookUrl`. The card is
 * read by a whole channel, so it carries the shared link (whoever clicks states a name, or is
 * known by Cloudflare Access); buttons only open the review page, which decides.
 */

/** Teams refuses messages over about 28 KB; we stay well below so a card always gets through. */
export const TEAMS_MAX_BYTES = 20_000;

/**
 * Text for a TextBlock, which Teams reads as Markdown and as `{{DATE()}}` templates: every
 * Markdown punctuation character is escaped, brace pairs and URL schemes are broken, so data
 * shows as written and makes no link, list, emphasis or template.
 */
export function escapeTeams(value: string): string {
  return value
    .replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`)
    .replace(/\{(?=\\?\{)/g, '{\u200b')
    .replace(/:\/\//g, ':\u200b//');
}

const text = (value: string, extra: Partial<ITextBlock> = {}): ITextBlock => ({ type: 'TextBlock', text: value, wrap: true, ...extra });

/** Text as Teams gets it: cut, then escaped (a cut never splits an escape), well-formed (a lone surrogate would be 6 bytes of JSON escape). */
const clean = (value: string, max: number) => escapeTeams(truncate(oneLine(wellFormed(value)), max));

/**
 * How much of each part a card shows; smaller budgets until the card fits. `lines` bounds the data
 * preview's blocks (about 100 bytes of JSON each besides their text).
 */
interface Budget { data: number; lines: number; prompt: number; facts: number; fact: number }
const BUDGETS: Budget[] = [
  { data: 3_000, lines: 60, prompt: 1_000, facts: 10, fact: 200 },
  { data: 1_500, lines: 30, prompt: 1_000, facts: 10, fact: 200 },
  { data: 500, lines: 12, prompt: 500, facts: 5, fact: 100 },
  { data: 0, lines: 0, prompt: 200, facts: 0, fact: 0 },
];

const NBSP = '\u00a0';

/**
 * The data preview, one TextBlock per line. Teams renders a TextBlock as one paragraph: its line
 * breaks and leading spaces collapse, which flattened nested data into a run-on line. Separate
 * blocks keep the lines, and no-break spaces (which do not collapse) keep the indentation.
 */
function dataPreview(n: ApprovalNotice, budget: Budget): IContainer | undefined {
  if (budget.data === 0 || budget.lines === 0) return undefined;
  const preview = n.format === 'json' ? truncate(prettyJson(n.data), budget.data) : dataText(n.data, budget.data);
  // Every line kept, blank ones too (a paragraph break in Markdown data).
  const all = wellFormed(preview).split(/\r\n|[\n\r\v\f\u0085\u2028\u2029]/);
  const lines = all.length > budget.lines ? [...all.slice(0, budget.lines - 1), '…'] : all;
  return {
    type: 'Container',
    items: lines.map((line) => {
      const [, indent, rest] = /^( *)(.*)$/.exec(line.replace(/[\u0000-\u001f\u007f]/g, ' '))!;
      // An empty block may be dropped by a client: an empty line stays a (blank) line.
      return text(`${NBSP.repeat(indent!.length)}${escapeTeams(rest!)}` || NBSP, { fontType: 'Monospace', size: 'Small', isSubtle: true, spacing: 'None' });
    }),
  };
}

/** The card for a notice, its parts cut to `budget` (the first, largest, by default). */
export function teamsCard(n: ApprovalNotice, budget: Budget = BUDGETS[0]!): IAdaptiveCard {
  const preview = dataPreview(n, budget);
  // A Teams message is read by everyone in the channel: only a shared link goes there, never an
  // approver's personal or batch link (which decides as them).
  const link = n.shared;
  const facts: IFact[] = [
    { title: 'Ensemble', value: clean(n.ensemble, 100) },
    { title: 'Step', value: clean(n.step, 100) },
    { title: 'Needs', value: `${n.minApprovals} approval${n.minApprovals === 1 ? '' : 's'}` },
    { title: 'Expires', value: new Date(n.expiresAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') },
    ...Object.entries(n.metadata ?? {}).slice(0, budget.facts).map(([k, v]) => ({
      title: clean(k, 60),
      value: clean(typeof v === 'string' ? v : JSON.stringify(v) ?? '', budget.fact),
    })),
  ];
  const actions: IOpenUrlAction[] = [
    ...(link
      ? [
          { type: 'Action.OpenUrl' as const, title: 'Review', url: link.callbackUrl },
          { type: 'Action.OpenUrl' as const, title: 'Approve', url: link.approveUrl, style: 'positive' as const },
          { type: 'Action.OpenUrl' as const, title: 'Reject', url: link.rejectUrl, style: 'destructive' as const },
        ]
      : []),
    ...(n.inboxUrl ? [{ type: 'Action.OpenUrl' as const, title: 'My inbox', url: n.inboxUrl }] : []),
  ];
  return {
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      text(noticeHeading(n.kind), { size: 'Medium', weight: 'Bolder' }),
      text(escapeTeams(truncate(wellFormed(n.prompt), budget.prompt).replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, ' '))),
      { type: 'FactSet', facts },
      ...(preview ? [preview] : []),
      text('Opening a link decides nothing: you confirm on the page.', { size: 'Small', isSubtle: true }),
    ],
    actions,
  } satisfies IAdaptiveCard;
}

/** The webhook body: one message with the card attached. */
export function teamsPayload(card: IAdaptiveCard) {
  return { type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }] };
}

/** The payload, with the data preview cut until the whole message fits Teams' limit. */
export function teamsBody(n: ApprovalNotice): string {
  for (const budget of BUDGETS) {
    const body = JSON.stringify(teamsPayload(teamsCard(n, budget)));
    if (new TextEncoder().encode(body).length <= TEAMS_MAX_BYTES) return body;
  }
  // The last budget is bounded (200 characters of prompt, no facts beyond the fixed four, no data).
  throw new NotifyError(`the Teams card is over ${TEAMS_MAX_BYTES} bytes even at its smallest`);
}

export const teamsChannel: NotificationChannel = {
  async send(n, { config }) {
    // Nothing posted through a webhook can be edited.
    if (n.kind === 'update') return;
    const url = typeof config.webhookUrl === 'string' ? config.webhookUrl : undefined;
    if (!url) throw new NotifyError('the teams channel needs notificationConfig.webhookUrl');
    await postJson(url, teamsBody(n), { 'user-agent': 'ensemble-hitl' });
  },
};

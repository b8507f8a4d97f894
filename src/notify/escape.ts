/** Escaping for every place user data is shown outside our own pages (hono escapes the pages). */

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML-escapes text, and neutralises mustache braces so data cannot reach MailChannels' templating. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML[c]!).replaceAll('{', '&#123;').replaceAll('}', '&#125;');
}

/** Plain text parts are mustache templates too: break `{{` / `}}` with a zero-width space. */
export function escapeMustacheText(value: string): string {
  return value.replaceAll('{{', '{\u200b{').replaceAll('}}', '}\u200b}');
}

/**
 * Slack mrkdwn: `&`, `<` and `>` are the only control characters (links `<url|text>`, mentions
 * `<!channel>`); escaping them makes any text inert.
 */
export function escapeMrkdwn(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Cuts text to `max` characters (by code point, never splitting a surrogate pair), marking the cut. */
export function truncate(value: string, max: number): string {
  const chars = Array.from(value);
  return chars.length <= max ? value : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** A header value without line breaks (no header injection through a subject). */
export const headerSafe = (value: string) => value.replace(/[\r\n]+/g, ' ').trim();

export const prettyJson = (value: unknown): string => JSON.stringify(value, null, 2) ?? 'null';

/** "in 3 h 20 min", "in 45 s", "expired". */
export function relativeTime(target: number, now = Date.now()): string {
  let s = Math.round((target - now) / 1000);
  if (s <= 0) return 'expired';
  const d = Math.floor(s / 86_400); s -= d * 86_400;
  const h = Math.floor(s / 3_600); s -= h * 3_600;
  const m = Math.floor(s / 60); s -= m * 60;
  const parts = d ? [`${d} d`, h ? `${h} h` : ''] : h ? [`${h} h`, m ? `${m} min` : ''] : m ? [`${m} min`] : [`${s} s`];
  return `in ${parts.filter(Boolean).join(' ')}`;
}

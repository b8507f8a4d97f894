/** Escaping for every place user data is shown outside our own pages (hono escapes the pages). */

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML-escapes text, and neutralises mustache braces so data cannot reach MailChannels' templating. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML[c]!).replaceAll('{', '&#123;').replaceAll('}', '&#125;');
}

/**
 * Plain text parts are mustache templates too: a zero-width space between every two adjacent
 * braces, so no run of braces (`{{`, `{{{`, `{{{{x`) is left for the template engine to read.
 */
export function escapeMustacheText(value: string): string {
  return value.replace(/\{(?=\{)/g, '{\u200b').replace(/\}(?=\})/g, '}\u200b');
}

/**
 * Slack mrkdwn: `&`, `<` and `>` are its control characters (links `<url|text>`, mentions
 * `<!channel>`); escaping them makes markup inert. Bare `@channel`, `@here` and `@everyone` get a
 * zero-width space so no client or setting turns them into a mention; blocks also set `verbatim`
 * so bare URLs and names are not linked.
 */
export function escapeMrkdwn(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
    .replace(/@(channel|here|everyone)\b/gi, '@\u200b$1');
}

/** Text for places that link URLs whatever we say (a notification's fallback text): URLs broken too. */
export function escapePlainSlack(value: string): string {
  return escapeMrkdwn(value).replace(/:\/\//g, ':\u200b//');
}

/** Characters that start a new line somewhere: in a header, a log line or a single-line field they forge one. */
const LINE_BREAKS = /[\r\n\v\f\u0085\u2028\u2029]+/g;

/** One line: every line break (also U+0085, U+2028, U+2029) and control character becomes a space. */
export const oneLine = (value: string) => value.replace(LINE_BREAKS, ' ').replace(/[\u0000-\u001f\u007f]/g, ' ');

/** Cuts text to `max` characters (by code point, never splitting a surrogate pair), marking the cut. */
export function truncate(value: string, max: number): string {
  const chars = Array.from(value);
  return chars.length <= max ? value : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/**
 * Cuts text to `max` UTF-16 code units, never splitting a surrogate pair, marking the cut. Slack
 * states its limits in "characters" without saying which; an astral character (most emoji) is one
 * code point but two units, so text cut in units is within the limit however Slack counts (3,000
 * code points of text can be 3,063 units or more).
 */
export function truncateUnits(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = Math.max(0, max - 1);
  // Cutting between the two halves of a pair would leave a lone surrogate (shown as U+FFFD).
  if (end > 0 && /[\uD800-\uDBFF]/.test(value[end - 1]!)) end--;
  return `${value.slice(0, end)}…`;
}

/**
 * `escape(value)`, cut to `max` UTF-16 units. The text is cut before it is escaped, so a cut never
 * falls inside what escaping wrote (`&gt…` shown literally), and only as much as its escaped form
 * needs. Escaping never shortens a longer prefix (a character is replaced by one or more, a
 * zero-width space is added only after a whole word), so the longest prefix that fits is found by
 * halving.
 *
 * @example escapedWithin('a > b', 8, escapeMrkdwn) // 'a &gt; b' (8 units); with max 6: 'a …', never 'a &gt…'
 */
export function escapedWithin(value: string, max: number, escape: (text: string) => string): string {
  const whole = escape(value);
  if (whole.length <= max) return whole;
  const points = Array.from(value);
  const fits = (count: number) => escape(points.slice(0, count).join('')).length + 1 <= max;
  let low = 0;
  let high = points.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid - 1;
  }
  return max < 1 ? '' : `${escape(points.slice(0, low).join(''))}…`;
}

/** A header value without line breaks or control characters (no header injection through a subject or name). */
export const headerSafe = (value: string) => oneLine(value).trim();

/** Splits text into lines at every kind of line break (for prefixing each line of a log). */
export const splitLines = (value: string) => value.split(LINE_BREAKS);

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

/** Lone surrogates (invalid UTF-16, which JSON escapes as 6 bytes each) become U+FFFD. */
export const wellFormed = (value: string) => value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

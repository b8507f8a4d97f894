import { html } from 'hono/html';

/**
 * A moment as people read it: words relative to now ("in 3 hours", "5 minutes ago"), the
 * date and time in the reader's zone when it is known (Cloudflare's `cf.timezone`, else UTC), and
 * the exact UTC instant on hover and in `datetime`.
 */
export function timeHtml(ms: number, zone: string | undefined, now = Date.now()) {
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}" title="${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}">${inWords(ms, now)} (${clock(ms, zone)})</time>`;
}

/** "in 3 hours", "2 days ago", "just now". */
export function inWords(ms: number, now = Date.now()): string {
  const diff = ms - now;
  const s = Math.abs(diff) / 1000;
  if (s < 45) return 'just now';
  const [n, unit] = s < 3_600 ? [Math.round(s / 60), 'minute'] : s < 86_400 ? [Math.round(s / 3_600), 'hour'] : [Math.round(s / 86_400), 'day'];
  const amount = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return diff > 0 ? `in ${amount}` : `${amount} ago`;
}

/** "Sun 22 Nov 2026, 15:03 Europe/Paris"; UTC when the zone is unknown or not a zone. */
export function clock(ms: number, zone: string | undefined): string {
  const format = (timeZone: string) => new Intl.DateTimeFormat('en-GB', {
    timeZone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false,
  }).format(ms);
  if (zone && zone !== 'UTC') {
    try {
      return `${format(zone)} ${zone}`;
    } catch {
      // An unknown zone name: fall through to UTC.
    }
  }
  return `${format('UTC')} UTC`;
}

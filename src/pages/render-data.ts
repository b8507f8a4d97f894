import markdownIt, { type MarkdownIt } from 'markdown-it';
import type { DataFormat } from '../hitl/request';
import { escapeHtml, prettyJson, truncate } from '../notify/escape';

/**
 * Approval data as people read it, in HTML that is safe to put anywhere (review page, email):
 * objects as tables (nested objects as nested tables), arrays as lists, long strings as paragraphs;
 * with `format: markdown` strings are Markdown, with `format: diff` they are unified diffs.
 * Everything from the data is escaped; Markdown allows no raw HTML, no images and only
 * http(s)/mailto links.
 */
export function dataHtml(data: unknown, format: DataFormat, locale = 'en-US'): string {
  if (format === 'json') return `<pre class="json">${escapeHtml(prettyJson(data))}</pre>`;
  return value(data, format, 0, locale);
}

// One formatter per locale and kind, per isolate (a handful of locales in practice; bounded anyway).
const formatters = new Map<string, Intl.NumberFormat>();

/**
 * A number as the reader writes it (`4,820.50` in en, `4.820,50` in de): fractions with at least
 * two digits, as amounts are read, and never fewer digits than the value has. The exact value is
 * in the element's title.
 */
export function formatNumber(n: number, locale: string): string {
  const kind = Number.isInteger(n) ? 'int' : 'frac';
  const key = `${locale}|${kind}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, kind === 'int' ? { maximumFractionDigits: 0 } : { minimumFractionDigits: 2, maximumFractionDigits: 20 });
    if (formatters.size > 64) formatters.clear();
    formatters.set(key, f);
  }
  return f.format(n);
}

const MAX_DEPTH = 8;
const MAX_ITEMS = 200;

function value(v: unknown, format: DataFormat, depth: number, locale: string): string {
  if (v === null || v === undefined) return '<span class="muted">(none)</span>';
  if (typeof v === 'string') return text(v, format);
  if (typeof v === 'number' && Number.isFinite(v)) return `<span class="scalar num" title="${escapeHtml(String(v))}">${escapeHtml(formatNumber(v, locale))}</span>`;
  if (typeof v === 'number' || typeof v === 'boolean') return `<span class="scalar">${escapeHtml(String(v))}</span>`;
  if (depth >= MAX_DEPTH) return `<pre class="json">${escapeHtml(prettyJson(v))}</pre>`;
  if (Array.isArray(v)) {
    if (v.length === 0) return '<span class="muted">(empty list)</span>';
    const items = v.slice(0, MAX_ITEMS).map((item) => `<li>${value(item, format, depth + 1, locale)}</li>`).join('');
    return `<ul class="list">${items}${v.length > MAX_ITEMS ? `<li class="muted">… ${v.length - MAX_ITEMS} more</li>` : ''}</ul>`;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return '<span class="muted">(empty)</span>';
  const rows = entries.slice(0, MAX_ITEMS).map(([k, item]) => `<tr><th scope="row">${escapeHtml(label(k))}</th><td>${value(item, format, depth + 1, locale)}</td></tr>`).join('');
  return `<table class="data"><tbody>${rows}${entries.length > MAX_ITEMS ? `<tr><td colspan="2" class="muted">… ${entries.length - MAX_ITEMS} more</td></tr>` : ''}</tbody></table>`;
}

/** `customer_name` and `customerName` read as "customer name". */
const label = (key: string) => key.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim() || key;

function text(s: string, format: DataFormat): string {
  if (format === 'markdown') return `<div class="md">${markdown().render(s)}</div>`;
  if (format === 'diff') return diff(s);
  // Short values inline; long or multi-line text as paragraphs that keep their line breaks.
  if (s.length <= 80 && !s.includes('\n')) return `<span class="scalar">${escapeHtml(s)}</span>`;
  return `<div class="text">${escapeHtml(s)}</div>`;
}

/** A unified diff, each line marked added, removed, hunk header or context. */
function diff(s: string): string {
  const lines = s.split(/\r?\n/).map((line) => {
    const kind = line.startsWith('+++') || line.startsWith('---') ? 'file'
      : line.startsWith('@@') ? 'hunk'
        : line.startsWith('+') ? 'add'
          : line.startsWith('-') ? 'del' : 'ctx';
    const tag = kind === 'add' ? 'ins' : kind === 'del' ? 'del' : 'span';
    return `<${tag} class="d-${kind}">${escapeHtml(line) || ' '}</${tag}>`;
  });
  return `<pre class="diff">${lines.join('\n')}</pre>`;
}

let md: MarkdownIt | undefined;

/** One renderer per isolate: no raw HTML, no images (the page's CSP loads none anyway), safe links only. */
function markdown(): MarkdownIt {
  if (md) return md;
  const m = markdownIt({ html: false, linkify: false, typographer: false });
  m.disable(['image']);
  m.validateLink = (url: string) => /^(https?:|mailto:)/i.test(url.trim());
  const defaultOpen = m.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
  m.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    tokens[idx]!.attrSet('rel', 'noopener noreferrer nofollow');
    return defaultOpen(tokens, idx, options, env, self);
  };
  // Headings of the data sit under the page's own (h1, h2): `#` becomes h3, and so on.
  for (const rule of ['heading_open', 'heading_close'] as const) {
    m.renderer.rules[rule] = (tokens, idx, options, _env, self) => {
      const token = tokens[idx]!;
      token.tag = `h${Math.min(6, Number(token.tag.slice(1)) + 2)}`;
      return self.renderToken(tokens, idx, options);
    };
  }
  // Braces are left to no template engine (email is a mustache template).
  const render = m.render.bind(m);
  m.render = (src, env) => render(src, env).replaceAll('{', '&#123;').replaceAll('}', '&#125;');
  md = m;
  return m;
}

/**
 * The data as plain text for channels that cannot show HTML (Slack, Teams, the email's text part):
 * `key: value` lines, nested objects indented, at most `max` characters. Markdown and diffs stay
 * as written (they are text already).
 */
export function dataText(data: unknown, max: number): string {
  const lines: string[] = [];
  const walk = (v: unknown, indent: string, depth: number) => {
    if (lines.length > 400) return;
    if (v !== null && typeof v === 'object' && depth < MAX_DEPTH) {
      const entries = Array.isArray(v) ? v.map((x, i) => [`${i + 1}.`, x] as const) : Object.entries(v as Record<string, unknown>).map(([k, x]) => [`${label(k)}:`, x] as const);
      for (const [k, x] of entries) {
        if (x !== null && typeof x === 'object') {
          lines.push(`${indent}${k}`);
          walk(x, `${indent}  `, depth + 1);
        } else {
          const s = x === null || x === undefined ? '(none)' : String(x);
          if (s.includes('\n')) {
            lines.push(`${indent}${k}`);
            for (const l of s.split('\n')) lines.push(`${indent}  ${l}`);
          } else lines.push(`${indent}${k} ${s}`);
        }
      }
      return;
    }
    lines.push(indent + (typeof v === 'string' ? v : prettyJson(v)));
  };
  walk(data, '', 0);
  return truncate(lines.join('\n'), max);
}

import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

// The token is in the URL: never leak it (Referrer-Policy), never cache it, never frame the page,
// and allow no script at all (the page needs none, so injected markup cannot run).
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

const STYLE = `*{box-sizing:border-box}body{font:16px/1.5 system-ui,-apple-system,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;color:#111;background:#fff}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
pre{background:#f4f4f5;padding:.75rem;overflow:auto;white-space:pre-wrap;word-break:break-word;border-radius:6px;font-size:.9rem;margin:0}
.prompt{white-space:pre-wrap;background:#fffbeb;border-left:4px solid #f59e0b;padding:.6rem .8rem;border-radius:4px}
label{display:block;margin-top:.8rem;font-weight:600}textarea,input[type=text]{width:100%;font:inherit;padding:.5rem;border:1px solid #bbb;border-radius:6px}
.actions{display:flex;gap:.75rem;margin-top:1rem;flex-wrap:wrap}button{font:inherit;font-weight:600;padding:.7rem 1.4rem;border-radius:8px;border:2px solid transparent;cursor:pointer;flex:1 1 8rem}
.approve{background:#16a34a;color:#fff}.reject{background:#dc2626;color:#fff}.chosen{border-color:#1e3a8a;box-shadow:0 0 0 3px #93c5fd}
.muted{color:#555;font-size:.92rem}.req{color:#9a3412;font-size:.92rem;font-weight:600}.num{font-variant-numeric:tabular-nums}.note{background:#eff6ff;border:1px solid #bfdbfe;padding:.6rem .8rem;border-radius:6px}
.warn{background:#fef2f2;border:1px solid #fecaca;padding:.6rem .8rem;border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e5e7eb;vertical-align:top}
dl{margin:0}dt{font-weight:600}dd{margin:0 0 .5rem 0}
select,input[type=password],input[type=number],input[type=email]{width:100%;font:inherit;padding:.5rem;border:1px solid #bbb;border-radius:6px}
button.link{background:none;border:0;padding:0;color:#1d4ed8;text-decoration:underline;font-weight:400;flex:none}
code{font-size:.8rem;word-break:break-word}table{display:block;overflow-x:auto}
body{overflow-wrap:anywhere}
.status{border-radius:10px;padding:.8rem 1rem;margin:0 0 .8rem;border:1px solid}.status p{margin:.2rem 0}
.status.pending{background:#fffbeb;border-color:#fcd34d}.status.approved{background:#f0fdf4;border-color:#86efac}
.status.rejected{background:#fef2f2;border-color:#fca5a5}.status.closed{background:#f4f4f5;border-color:#d4d4d8}
.eyebrow{color:#555;font-size:.85rem;text-transform:uppercase;letter-spacing:.03em}.facts{font-size:.92rem}
.prompt{white-space:pre-wrap;font-size:1.1rem;font-weight:600;margin:.2rem 0 .6rem}
.hint{margin:.1rem 0 0}.small{font-size:.8rem}label.check{display:flex;gap:.5rem;align-items:center;font-weight:600}
.bar{position:sticky;bottom:0;display:flex;gap:.75rem;padding:.75rem 0;background:#fff;border-top:1px solid #e5e7eb;margin-top:1rem}
.bar button{flex:1 1 0;min-width:0}
button.secondary{background:#1d4ed8;color:#fff;margin-top:.8rem;flex:none}
details{margin:.6rem 0}summary{cursor:pointer;color:#1d4ed8}
table.data{display:table;width:100%;table-layout:fixed;overflow:visible}table.data th{width:32%;color:#333;font-weight:600}
table.data table.data{margin:0;font-size:.95em}ul.list,ul.decisions{margin:.2rem 0;padding-left:1.2rem}ul.decisions li{margin:.4rem 0}
.text{white-space:pre-wrap}.ok{color:#15803d}.no{color:#b91c1c}
.md p{margin:.3rem 0}.md pre{white-space:pre-wrap}.md table{display:table}
pre.diff{white-space:pre-wrap;word-break:break-all}pre.diff ins,pre.diff del,pre.diff span{display:block;text-decoration:none}
.d-add{background:#dcfce7;color:#14532d}.d-del{background:#fee2e2;color:#7f1d1d}.d-hunk{color:#6d28d9}.d-file{font-weight:700}
@media (max-width:480px){table.data,table.data tbody,table.data tr,table.data th,table.data td{display:block;width:auto}
table.data th{border-bottom:0;padding-bottom:0}h1{font-size:1.25rem}}
body.console{max-width:80rem}
body.console .grid td,body.console .grid th,body.console .grid code{overflow-wrap:normal;word-break:normal;hyphens:none}
body.console .grid th,body.console .grid td.nowrap,.nw{white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%;margin:.4rem 0}.scroll>table{display:table;min-width:100%}
.id{display:inline-block;max-width:9.5rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom;font-family:ui-monospace,monospace;font-size:.85rem;color:#555}
.badge{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.85rem;white-space:nowrap;border:1px solid #d4d4d8;background:#f4f4f5}
.badge.suspended,.badge.pending{background:#fffbeb;border-color:#fcd34d}.badge.completed,.badge.approved{background:#f0fdf4;border-color:#86efac}
.badge.failed,.badge.rejected{background:#fef2f2;border-color:#fca5a5}
.ops{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin-top:1rem}.ops form{display:flex;gap:.5rem;align-items:center;flex-wrap:nowrap;margin:0}
.ops input[type=text]{width:16rem;max-width:50vw}.ops button{flex:none}
button.plain{background:#fff;color:#1d4ed8;border-color:#1d4ed8}button.danger{background:#fff;color:#b91c1c;border-color:#b91c1c}
.topnav{margin:.5rem 0 1rem}.topnav form{display:inline;margin:0}.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}.filters>div{flex:1 1 10rem}.filters label{margin-top:0}.filters button{flex:none}`;

export type PageStatus = 200 | 400 | 401 | 403 | 404 | 409 | 410 | 413 | 500 | 503 | 429;

/** A complete HTML page; every interpolated value is escaped by hono's `html`. */
export function page(c: Context, title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>, status: PageStatus = 200, bodyClass?: 'console') {
  const doc = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title><style>${raw(STYLE)}</style></head><body${bodyClass ? html` class="${bodyClass}"` : ''}>${body}</body></html>`;
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  return c.html(doc, status);
}

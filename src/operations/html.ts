import { Context, Liquid, Tag, toValue, toValueSync, type Emitter, type TagToken, type Template, type TopLevelToken } from 'liquidjs';
import markdownIt, { type MarkdownIt } from 'markdown-it';
import { z } from 'zod';
import { StepError } from '../errors';
import { LIMITS } from '../limits';
import { escapeHtml } from '../notify/escape';
import { defineOperation, type ConfigProblem } from './operation';

// Templates are Liquid (liquidjs: conductor's default engine; it never evaluates code from text, no
// `eval` or `new Function`, so it runs in Workers). Every `{{ }}` is HTML-escaped unless the
// template says `| raw`. No file system: {% include %}, {% render %} and {% layout %} are refused
// when the template is parsed. What a render may do is counted (LIMITS.htmlRenders and
// renderedWorkChars), because a Worker's clock stands still while it computes.

const Source = z.union([
  z.string(),
  z.strictObject({ inline: z.string().describe('the template'), engine: z.enum(['liquid']).optional().describe('liquid, the one engine') }),
]);
const PageOptions = z.strictObject({ title: z.string().optional().describe('the page title'), lang: z.string().regex(/^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/, 'a language tag such as en or de-CH').optional().describe('the page language (default en)') });

const Config = z.strictObject({
  template: Source.optional().meta({ description: 'a Liquid template of HTML: {{ name }} is escaped, {{ name | raw }} is not; or { inline: ... }', examples: ['<h1>Hello {{ name }}</h1>'] }),
  markdown: z.string().optional().meta({ description: 'Markdown (its {{ }} filled first); raw HTML in it is shown as text', examples: ['# Hello {{ name }}'] }),
  data: z.record(z.string(), z.unknown()).optional().meta({ description: 'the template\'s variables (default: the step\'s input)', examples: [{ name: '${input.name}' }] }),
  page: z.union([z.boolean(), PageOptions]).optional().describe('true or { title, lang }: a whole HTML document around the result'),
  templateEngine: z.literal('liquid').optional().describe("conductor's engine setting: Liquid is the one engine here (simple and handlebars templates are rewritten with {% if %} and {% for %})"),
});
type HtmlConfig = z.infer<typeof Config>;

const sourceOf = (t: HtmlConfig['template']) => (typeof t === 'string' ? t : t?.inline);

/** Refuses a tag that reads template files, when the template is parsed. */
const noFiles = (name: string) => class extends Tag {
  constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid) {
    super(token, remain, liquid);
    throw new Error(`{% ${name} %} is not available: there are no template files (write the markup in this template)`);
  }

  render(): string {
    return '';
  }
};

/** A value as Liquid writes it (lists joined), objects as JSON. */
function textOf(value: unknown): string {
  const v: unknown = toValue(value);
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(textOf).join('');
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** The work of one render: every tag, output and text evaluated, and every character written or allocated. */
class Budget {
  renders = 0;
  chars = 0;
  exceeded: string | undefined;

  /** liquidjs calls this (as its render limit) before every tag, output and text it renders. */
  check(): void {
    if (++this.renders > LIMITS.htmlRenders) this.stop(`more than ${LIMITS.htmlRenders} tags, outputs and text (LIMITS.htmlRenders)`);
  }

  /** liquidjs calls this (as its memory limit) for what filters and ranges allocate; outputs are charged too. */
  use(count: number): void {
    if (count > 0 && (this.chars += count) > LIMITS.renderedWorkChars) this.stop(`more than ${LIMITS.renderedWorkChars} characters (LIMITS.renderedWorkChars)`);
  }

  private stop(what: string): never {
    this.exceeded = what;
    throw new Error(`the template renders ${what}`);
  }
}

/** Where a render writes; what it writes is charged to its budget as it goes. */
class Written implements Emitter {
  buffer = '';
  constructor(private readonly budget: Budget) {}
  write(html: unknown): void {
    const text = textOf(html);
    this.budget.use(text.length);
    this.buffer += text;
  }
}

type Output = { context: Context };
/** `{{ }}` in HTML: charged, then escaped (braces too, so no value reaches a later template engine). */
function escaped(this: Output, value: unknown): string {
  const text = textOf(value);
  this.context.memoryLimit.use(text.length);
  return escapeHtml(text);
}
/** `{{ }}` in Markdown: charged; markdown-it makes any HTML in it text. */
function charged(this: Output, value: unknown): string {
  const text = textOf(value);
  this.context.memoryLimit.use(text.length);
  return text;
}

// One engine of each kind per isolate: they hold options and tags, never data.
const engines: { html?: Liquid; markdown?: Liquid } = {};

function engine(kind: 'html' | 'markdown'): Liquid {
  const existing = engines[kind];
  if (existing) return existing;
  const liquid = new Liquid({
    outputEscape: kind === 'html' ? escaped : charged,
    strictFilters: true,
    ownPropertyOnly: true,
    templates: {},
    parseLimit: LIMITS.htmlTemplateChars,
  });
  for (const name of ['include', 'render', 'layout']) liquid.registerTag(name, noFiles(name));
  engines[kind] = liquid;
  return liquid;
}

let md: MarkdownIt | undefined;
/** Markdown with raw HTML escaped (markdown-it's own link check refuses javascript: and the like). */
const markdown = () => (md ??= markdownIt({ html: false, linkify: false, typographer: false }));

function parse(kind: 'html' | 'markdown', source: string): Template[] {
  if (source.length > LIMITS.htmlTemplateChars) {
    throw new StepError('TEMPLATE_TOO_LARGE', `html: the ${kind === 'html' ? 'template' : 'markdown'} is ${source.length} characters; at most ${LIMITS.htmlTemplateChars} (LIMITS.htmlTemplateChars)`);
  }
  try {
    return engine(kind).parse(source);
  } catch (e) {
    throw new StepError('TEMPLATE_INVALID', `html: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function render(kind: 'html' | 'markdown', templates: Template[], data: Record<string, unknown>): string {
  const liquid = engine(kind);
  const budget = new Budget();
  const ctx = new Context(data, liquid.options, { sync: true }, { renderLimit: budget as never, memoryLimit: budget as never, liquid });
  const out = new Written(budget);
  try {
    toValueSync(liquid.renderer.renderTemplates(templates, ctx, out));
  } catch (e) {
    if (budget.exceeded) throw new StepError('TEMPLATE_LIMIT', `html: the template renders ${budget.exceeded}`);
    throw new StepError('TEMPLATE_FAILED', `html: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return out.buffer;
}

function wrap(body: string, page: true | z.infer<typeof PageOptions>): string {
  const { title = '', lang = 'en' } = page === true ? {} : page;
  return `<!DOCTYPE html>\n<html lang="${escapeHtml(lang)}">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n`
    + `<title>${escapeHtml(title)}</title>\n</head>\n<body>\n${body}\n</body>\n</html>\n`;
}

/** How many `${...}` a string holds (`$${` is a literal), and whether one of them is the whole string. */
function expressionsIn(written: unknown): { count: number; whole: boolean } {
  if (typeof written !== 'string') return { count: 0, whole: false };
  const count = written.match(/(?<!\$)\$\{/g)?.length ?? 0;
  const trimmed = written.trim();
  return { count, whole: count === 1 && trimmed.startsWith('${') && trimmed.endsWith('}') };
}

function problems(config: Record<string, unknown>, written: ReadonlySet<string>, asWritten: Record<string, unknown>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  if (written.has('template') === written.has('markdown')) {
    out.push({ path: written.has('template') ? ['markdown'] : [], atKey: written.has('template'), message: "write one of 'template' (HTML) or 'markdown'" });
  }
  for (const key of ['template', 'markdown'] as const) {
    if (!written.has(key)) continue;
    const kind = key === 'template' ? 'html' : 'markdown';
    const raw = asWritten[key];
    const inline = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).inline : raw;
    const { count, whole } = expressionsIn(inline);
    if (count > 0 && !whole) {
      out.push({ path: typeof raw === 'object' ? [key, 'inline'] : [key], message: `the ${key} holds \${...}: its value would be spliced into the template unescaped. Pass values in 'data:' and write {{ name }}` });
      continue;
    }
    const source = key === 'template' ? sourceOf(Source.safeParse(config[key]).data) : config[key];
    if (typeof source !== 'string') continue;
    // Conductor's other engines (simple, handlebars) write blocks as {{#each}} / {{#if}}.
    const block = /\{\{\s*[#/^>][^}]{0,40}/.exec(source);
    if (block) {
      out.push({ path: typeof raw === 'object' ? [key, 'inline'] : [key], message: `'${block[0]}' is a Handlebars block (conductor's simple or handlebars engine): templates here are Liquid, write {% for x in items %}...{% endfor %} and {% if x %}...{% endif %}` });
      continue;
    }
    try {
      parse(kind, source);
    } catch (e) {
      if (!(e instanceof StepError)) throw e;
      out.push({ path: typeof raw === 'object' ? [key, 'inline'] : [key], message: e.message.replace(/^html: /, '') });
    }
  }
  return out;
}

/**
 * `operation: html`, as conductor writes it: a Liquid template (`template`, or Markdown in
 * `markdown`) rendered with `data` (default: the step's input). Output: `{ html }`.
 *
 * @example { template: "<h1>Hello {{ name }}</h1>", data: { name: "${input.name}" }, page: { title: Hello } }
 */
export const html = defineOperation({
  config: Config,
  ownTemplates: [['template'], ['markdown']],
  conductorKeys: {
    styles: 'write a <style> element in the template (with `page: true` the result is a whole document)',
    seo: 'write the <title> and <meta> elements in the template (`page: { title }` gives the title)',
    meta: 'write the <meta> elements in the template',
    scripts: 'write <script> elements in the template (the review pages of this runtime run none of yours)',
    renderOptions: 'the result is the rendered HTML as it is: no minifying, CSS inlining or pretty printing',
    contentType: 'the output is `{ html }`; answer it as text with an output block',
    cookieSecret: 'no cookies are set or read by a step',
    defaultCookieOptions: 'no cookies are set or read by a step',
  },
  check(config, _ctx, step) {
    const asWritten = typeof step.written.config === 'object' && step.written.config !== null ? step.written.config as Record<string, unknown> : {};
    return problems(config, new Set([...Object.keys(config), ...step.dynamicConfig]), asWritten);
  },
  async run({ config, input }) {
    const source = config.markdown ?? sourceOf(config.template);
    if (source === undefined || (config.markdown !== undefined && config.template !== undefined)) throw new StepError('INVALID_CONFIG', "html: write one of 'template' (HTML) or 'markdown'");
    const kind = config.markdown !== undefined ? 'markdown' : 'html';
    const data = config.data ?? (typeof input === 'object' && input !== null && !Array.isArray(input) ? input as Record<string, unknown> : {});
    let body = render(kind, parse(kind, source), data);
    if (kind === 'markdown') {
      if (body.length > LIMITS.stepOutputBytes) throw new StepError('OUTPUT_TOO_LARGE', `html: the Markdown renders to more than ${LIMITS.stepOutputBytes} characters, the most a step's output holds`);
      body = markdown().render(body);
    }
    return { html: config.page ? wrap(body, config.page) : body };
  },
});

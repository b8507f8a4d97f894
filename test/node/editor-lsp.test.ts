import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnsemble } from '../../src/ensemble/loader';
import type { ProblemCode } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';

// What an author sees in an editor: the real yaml-language-server (the server behind VS Code's
// YAML extension and most other editors), spoken to over LSP on stdio, with the generated schema
// associated with every file, as a user's `yaml.schemas` setting would do.
const root = fileURLToPath(new URL('../..', import.meta.url));
const SERVER = join(root, 'node_modules/yaml-language-server/bin/yaml-language-server');
const SCHEMA = pathToFileURL(join(root, 'docs/ensemble.schema.json')).href;

interface Diagnostic { range: { start: { line: number; character: number } }; message: string; severity?: number }
interface Message { id?: number; method?: string; params?: any; result?: any; error?: any }

/** A minimal LSP client: Content-Length framing, requests by id, diagnostics by document. */
class Lsp {
  private buffer = Buffer.alloc(0);
  private nextId = 0;
  private readonly pending = new Map<number, (m: Message) => void>();
  private readonly published = new Map<string, Diagnostic[]>();
  private readonly waiting = new Map<string, ((d: Diagnostic[]) => void)[]>();

  constructor(private readonly proc: ChildProcessWithoutNullStreams, private readonly settings: object) {
    proc.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  private receive(chunk: Buffer) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString())![1]);
      if (this.buffer.length < end + 4 + length) return;
      const message = JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString()) as Message;
      this.buffer = this.buffer.subarray(end + 4 + length);
      this.handle(message);
    }
  }

  private handle(m: Message) {
    if (m.id !== undefined && m.method === undefined) {
      this.pending.get(m.id)?.(m);
      this.pending.delete(m.id);
    } else if (m.method === 'textDocument/publishDiagnostics') {
      this.published.set(m.params.uri, m.params.diagnostics);
      for (const resolve of this.waiting.get(m.params.uri) ?? []) resolve(m.params.diagnostics);
      this.waiting.delete(m.params.uri);
    } else if (m.id !== undefined) {
      // The server asks for its settings (workspace/configuration) and registers capabilities.
      const result = m.method === 'workspace/configuration'
        ? m.params.items.map((item: { section?: string }) => (item.section ?? '').split('.').filter(Boolean).reduce((o: any, k) => o?.[k], this.settings) ?? null)
        : null;
      this.send({ id: m.id, result });
    }
  }

  private send(m: object) {
    const text = JSON.stringify({ jsonrpc: '2.0', ...m });
    this.proc.stdin.write(`Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  }

  request<T = any>(method: string, params: object): Promise<T> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
      this.send({ id, method, params });
    });
  }

  notify(method: string, params: object) {
    this.send({ method, params });
  }

  /** Opens a document and resolves with the first diagnostics published for it. */
  open(uri: string, text: string): Promise<Diagnostic[]> {
    this.published.delete(uri);
    const next = new Promise<Diagnostic[]>((resolve) => this.waiting.set(uri, [...(this.waiting.get(uri) ?? []), resolve]));
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version: 1, text } });
    return next;
  }
}

const settings = { yaml: { validate: true, hover: true, completion: true, schemaStore: { enable: false }, schemas: { [SCHEMA]: ['**/*.yaml'] } } };
let proc: ChildProcessWithoutNullStreams;
let lsp: Lsp;
/** Documents that exist only in the editor: yaml blocks of the docs, the mistakes below. */
let virtual = 0;
const scratch = (text: string, dir = 'test/fixtures') => lsp.open(pathToFileURL(join(root, dir, `editor-${++virtual}.yaml`)).href, text);
const at = (d: Diagnostic) => `${d.range.start.line + 1}:${d.range.start.character + 1} ${d.message}`;

beforeAll(async () => {
  proc = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  lsp = new Lsp(proc, settings);
  await lsp.request('initialize', {
    processId: process.pid,
    rootUri: pathToFileURL(root).href,
    capabilities: { textDocument: { completion: { completionItem: { snippetSupport: true, documentationFormat: ['markdown'] } }, hover: { contentFormat: ['markdown'] } }, workspace: { configuration: true } },
  });
  lsp.notify('initialized', {});
  lsp.notify('workspace/didChangeConfiguration', { settings });
  // Only once the schema is applied does an empty answer mean "no problem": wait for it to flag one.
  const canary = 'agents:\n  - name: a\n    operation: teleport\n';
  for (let i = 0; i < 50 && (await scratch(canary)).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect((await scratch(canary)).map(at)).toEqual([expect.stringMatching(/^3:16 /)]);
}, 30_000);

afterAll(() => {
  proc?.kill();
});

describe('an editor (yaml-language-server over LSP) with the generated schema', () => {
  it('shows no problem in any shipped example or YAML block of the docs', async () => {
    const files = readdirSync(join(root, 'ensembles')).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(12);
    const opened: [string, Promise<Diagnostic[]>][] = files.map((file) => {
      const path = join(root, 'ensembles', file);
      return [file, lsp.open(pathToFileURL(path).href, readFileSync(path, 'utf8'))];
    });
    const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    for (const doc of docs) {
      const text = readFileSync(join(root, doc), 'utf8');
      for (const m of text.matchAll(/^```yaml([^\n]*)\n([\s\S]*?)^```/gm)) {
        // The mistakes corpus (`yaml broken`) is checked below, from its files.
        if (m[1]!.includes('broken')) continue;
        // Opened beside docs/ so the block's own `$schema=../docs/ensemble.schema.json` line resolves.
        opened.push([`${doc}:${text.slice(0, m.index).split('\n').length}`, scratch(m[2]!, 'docs')]);
      }
    }
    expect(opened.length - files.length).toBeGreaterThanOrEqual(6);
    for (const [where, shown] of opened) expect((await shown).map(at), where).toEqual([]);
  });

  // Problems a JSON Schema can express; references, scripts and expressions need the whole file.
  const EXPRESSIBLE: ProblemCode[] = ['schema', 'unknown-operation', 'config'];
  const corpus = readdirSync(join(root, 'test/fixtures/broken')).filter((f) => f.endsWith('.yaml')).sort();
  it.each(corpus)('flags as you type what the loader reports in broken/%s, where a schema can say it', async (file) => {
    const path = join(root, 'test/fixtures/broken', file);
    const source = readFileSync(path, 'utf8');
    const loaded = loadEnsemble({ file, source }, { kinds: stepKinds, scripts: new Set(['greet']) });
    const problems = loaded.ok ? [] : loaded.problems;
    const shown = await lsp.open(pathToFileURL(path).href, source);
    const lines = new Set(shown.map((d) => d.range.start.line + 1));
    for (const p of problems.filter((p) => EXPRESSIBLE.includes(p.code))) expect(lines.has(p.line), `${p.line}:${p.column} ${p.message}\nshown: ${shown.map(at).join('\n')}`).toBe(true);
    // A YAML slip is reported by the editor's parser where it notices it (not always the loader's line).
    if (problems.some((p) => p.code === 'yaml')) expect(shown.some((d) => d.severity === 1), shown.map(at).join('\n')).toBe(true);
    // A file whose only problems need the whole file gets no false alarm from the schema.
    if (problems.every((p) => !EXPRESSIBLE.includes(p.code) && p.code !== 'yaml')) expect(shown.map(at)).toEqual([]);
  });

  const step = (lines: string) => `agents:\n  - name: s\n${lines}`;
  const NOT_A_DURATION = /^Not a duration: a number of (seconds|milliseconds), or a number and a unit such as "30s", "24h" or "7 days"\.$/;
  const mistakes: [string, string, string, RegExp][] = [
    ['a negative hitl timeout', step('    agent: hitl\n    inputs:\n      timeout: -5\n'), '5:16', /exclusive minimum of 0/],
    ['a hitl timeout of 0 ms', step('    agent: hitl\n    config:\n      timeout: 0\n'), '5:16', /exclusive minimum of 0/],
    ['a hitl timeout of "1 fortnight"', step('    agent: hitl\n    config:\n      timeout: 1 fortnight\n'), '5:16', NOT_A_DURATION],
    ['a hitl timeout over 365 days', step('    agent: hitl\n    inputs:\n      timeout: 40000000\n'), '5:16', /maximum of 31536000\b/],
    ['a reminder after "0s"', step('    agent: hitl\n    inputs: { remindAfter: 0s, prompt: P }\n'), '4:28', NOT_A_DURATION],
    ['an http timeout of "soon"', step('    operation: http\n    config: { url: "https://x.example", timeout: soon }\n'), '4:50', NOT_A_DURATION],
    ['a negative http backoff', step('    operation: http\n    config: { url: "https://x.example", backoff: -1 }\n'), '4:50', /minimum of 0/],
    ['a retry backoff of "later"', step('    operation: code\n    config: { script: greet }\n    retry: { attempts: 2, backoff: later }\n'), '5:36', NOT_A_DURATION],
    ['both operation and agent', step('    operation: code\n    agent: hitl\n    config: { script: greet }\n'), '4:5', /not allowed/],
    ['both input and inputs', step('    operation: code\n    config: { script: greet }\n    input: {}\n    inputs: {}\n'), '6:5', /not allowed/],
    ['neither operation nor agent', step('    description: nothing to do\n'), '2:5', /Missing property "operation"/],
    ['an unknown channel', step('    agent: hitl\n    config: { notificationChannel: pigeon }\n'), '4:36', /Value is not accepted/],
  ];
  it.each(mistakes)('flags %s as you type, where it is', async (_, source, where, message) => {
    const shown = await scratch(source);
    expect(shown.filter((d) => at(d).startsWith(`${where} `)).map((d) => d.message), shown.map(at).join('\n')).toContainEqual(expect.stringMatching(message));
  });

  /** The labels completion offers at a line (0-based) and column of a document. */
  async function completions(source: string, line: number, character: number): Promise<string[]> {
    const uri = pathToFileURL(join(root, 'test/fixtures', `editor-${++virtual}.yaml`)).href;
    await lsp.open(uri, source);
    const result = await lsp.request('textDocument/completion', { textDocument: { uri }, position: { line, character } });
    return (Array.isArray(result) ? result : result.items).map((i: { label: string }) => i.label);
  }

  it('completes only keys that keep the step valid, each once', async () => {
    const operation = await completions('agents:\n  - name: a\n    operation: http\n    input: {}\n    \n', 4, 4);
    expect(operation).toEqual(expect.arrayContaining(['config', 'condition', 'onError', 'retry']));
    expect(operation).not.toContain('agent');
    expect(operation).not.toContain('inputs');
    expect(operation.filter((l) => l === 'config')).toHaveLength(1);

    const hitlStep = await completions('agents:\n  - name: b\n    agent: hitl\n    \n', 3, 4);
    expect(hitlStep).toEqual(expect.arrayContaining(['config', 'inputs']));
    expect(hitlStep).not.toContain('operation');
    expect(hitlStep.filter((l) => l === 'config')).toHaveLength(1);

    const hitlConfig = await completions('agents:\n  - name: b\n    agent: hitl\n    config:\n      timeout: 5\n      \n', 5, 6);
    expect(hitlConfig).toEqual(expect.arrayContaining(['notificationChannel', 'approvers', 'remindAfter']));
    expect(hitlConfig).not.toContain('property');
    expect(hitlConfig).not.toContain('timeout');
    expect(new Set(hitlConfig).size).toBe(hitlConfig.length);

    // Before its kind is written, a step is offered the kinds, not every kind's config.
    const fresh = await completions('agents:\n  - name: c\n    \n', 2, 4);
    expect(fresh).toEqual(expect.arrayContaining(['operation', 'agent']));
    expect(fresh).not.toContain('config');
    expect(new Set(fresh).size).toBe(fresh.length);
  });

  it('shows hover docs as Markdown, code as code', async () => {
    const uri = pathToFileURL(join(root, 'test/fixtures', `editor-${++virtual}.yaml`)).href;
    await lsp.open(uri, 'agents:\n  - name: a\n    operation: code\n    config: { script: greet }\n');
    const name = await lsp.request('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 5 } });
    expect(name.contents.kind).toBe('markdown');
    expect(name.contents.value).toContain('later steps read its result as `${name.output}`.');
    const operation = await lsp.request('textDocument/hover', { textDocument: { uri }, position: { line: 2, character: 6 } });
    expect(operation.contents.value).toContain('`operation: hitl` is accepted as `agent: hitl`.');
    expect(`${name.contents.value}${operation.contents.value}`).not.toContain('\\`');
  });
});

import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { appWith } from './helpers';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';
import { LIMITS } from '../../src/limits';
import storageFixture from '../fixtures/conductor/storage.yaml?raw';
import transformFixture from '../fixtures/conductor/transform.yaml?raw';
import htmlFixture from '../fixtures/conductor/html.yaml?raw';

// The operations conductor has and this runtime took in (storage, transform, html), run as
// ensembles on the real KV, R2 and queue bindings of wrangler.toml inside workerd; with what an
// author gets wrong (load problems) and what a hostile value tries.

const problems = (source: string) => {
  const r = loadEnsemble({ file: 'ensembles/e.yaml', source }, { kinds: stepKinds, scripts: new Set() });
  return r.ok ? [] : r.problems.map(formatProblem);
};
const one = (operation: string, config: string) => `agents:\n  - name: s\n    operation: ${operation}\n    config: ${config}\n`;
/** Runs one step of `operation` with `config` (flow YAML) on `input`; its output, or its error. */
async function step(operation: string, config: string, input: unknown = {}) {
  const name = `c-${crypto.randomUUID().slice(0, 8)}`;
  const app = appWith({ [name]: one(operation, config) });
  const listed = app.registry.list().find((e) => e.name === name)!;
  expect(listed.problems, 'the step loads').toEqual([]);
  const { status, body } = await app.run(name, input);
  return { status, output: body.output?.s, error: body.error?.details };
}

describe('storage', () => {
  it('KV: put, get (JSON when it parses, else text), list, delete; a missing key gives default, or null', async () => {
    const key = `kv-${crypto.randomUUID()}`;
    const { run } = appWith({ kv: `agents:
  - name: put
    operation: storage
    config: { type: kv, action: put, key: "${key}", value: { n: "\${input.n}" }, ttl: 120 }
  - name: text
    operation: storage
    config: { type: kv, action: put, key: "${key}-t", value: "plain text" }
  - name: get
    operation: storage
    config: { type: kv, action: get, key: "${key}" }
  - name: getText
    operation: storage
    config: { type: kv, action: get, key: "${key}-t" }
  - name: list
    operation: storage
    config: { type: kv, action: list, prefix: "${key}" }
  - name: del
    operation: storage
    config: { type: kv, action: delete, key: "${key}" }
  - name: gone
    operation: storage
    config: { type: kv, action: get, key: "${key}", default: { fresh: true } }
  - name: none
    operation: storage
    config: { type: kv, action: get, key: "${key}" }
` });
    const { status, body } = await run('kv', { n: 5 });
    expect(status).toBe(200);
    expect(body.output).toEqual({
      put: { ok: true, key }, text: { ok: true, key: `${key}-t` }, get: { n: 5 }, getText: 'plain text',
      list: { keys: [key, `${key}-t`], complete: true }, del: { ok: true, key }, gone: { fresh: true }, none: null,
    });
    expect(await env.KV.get(key)).toBeNull();
    expect(await env.KV.get(`${key}-t`)).toBe('plain text');
  });

  it('R2: put (JSON or text, with its content type), get, list, delete in the BUCKET binding', async () => {
    const prefix = `r2-${crypto.randomUUID()}/`;
    const { run } = appWith({ r2: `agents:
  - name: put
    operation: storage
    config: { type: r2, action: put, key: "${prefix}a.json", value: "\${input.doc}" }
  - name: note
    operation: storage
    config: { type: r2, action: put, key: "${prefix}b.txt", value: "plain text" }
  - name: get
    operation: storage
    config: { type: r2, action: get, key: "${prefix}a.json" }
  - name: list
    operation: storage
    config: { type: r2, action: list, prefix: "${prefix}", limit: 10 }
  - name: del
    operation: storage
    config: { type: r2, action: delete, key: "${prefix}a.json" }
  - name: gone
    operation: storage
    config: { type: r2, action: get, key: "${prefix}a.json", default: 0 }
` });
    const doc = { rows: [1, 2], by: 'Ada' };
    const { status, body } = await run('r2', { doc });
    expect(status).toBe(200);
    expect(body.output).toEqual({
      put: { ok: true, key: `${prefix}a.json` }, note: { ok: true, key: `${prefix}b.txt` }, get: doc,
      list: { keys: [`${prefix}a.json`, `${prefix}b.txt`], complete: true }, del: { ok: true, key: `${prefix}a.json` }, gone: 0,
    });
    expect(await env.BUCKET.get(`${prefix}a.json`)).toBeNull();
    const note = await env.BUCKET.get(`${prefix}b.txt`);
    expect({ type: note!.httpMetadata?.contentType, text: await note!.text() }).toEqual({ type: 'text/plain; charset=utf-8', text: 'plain text' });
  });

  it('queue: send a message to the QUEUE producer, with a delay', async () => {
    expect(await step('storage', '{ type: queue, action: send, queue: QUEUE, body: { job: "${input.job}" }, delaySeconds: 30 }', { job: 'export' }))
      .toEqual({ status: 200, output: { ok: true, queue: 'QUEUE' }, error: undefined });
  });

  it('a binding that is not a KV, R2 or queue fails the step with BINDING_MISSING (a secret is not one either)', async () => {
    const cases = [
      '{ type: kv, action: get, key: k, binding: NOPE }',
      '{ type: kv, action: get, key: k, binding: BUCKET }',
      '{ type: r2, action: get, key: k, binding: KV }',
      '{ type: r2, action: get, key: k, binding: API_KEY }',
      '{ type: queue, action: send, queue: KV, body: 1 }',
      '{ type: queue, action: send, queue: "${input.q}", body: 1 }',
    ];
    for (const config of cases) {
      const r = await step('storage', config, { q: 'constructor' });
      expect(r.status, config).toBe(422);
      expect(r.error, config).toMatchObject({ step: 's', code: 'BINDING_MISSING', message: expect.stringMatching(/^storage: there is no (KV|R2|Queue) binding named '(NOPE|BUCKET|KV|API_KEY|constructor)' \(see wrangler\.toml\)$/) });
      expect(r.error.message).not.toContain('test-api-key');
    }
  });

  it('load time: an action its type has not, a key the action needs or does not take, each one problem at its place', () => {
    expect(problems(one('storage', '{ type: queue, action: get, key: k }'))).toEqual([
      "ensembles/e.yaml:4:36: a queue takes action 'send' (get, put, delete and list are for kv and r2)",
    ]);
    expect(problems(one('storage', '{ type: kv, action: send, queue: QUEUE, body: 1 }'))).toEqual([
      "ensembles/e.yaml:4:33: action 'send' is for type: queue (a kv step takes get, put, delete or list)",
    ]);
    expect(problems(one('storage', '{ type: kv, action: put, key: k, ttl: 60, prefix: p }'))).toEqual([
      "ensembles/e.yaml:4:33: action 'put' needs 'value'",
      "ensembles/e.yaml:4:55: 'prefix' does not apply to action 'put'",
    ]);
    expect(problems(one('storage', '{ type: r2, action: put, key: k, value: 1, ttl: 60 }'))).toEqual([
      "ensembles/e.yaml:4:56: R2 objects do not expire: 'ttl' is for type: kv",
    ]);
    expect(problems(one('storage', '{ type: queue, action: send, binding: QUEUE, body: 1, delaySeconds: 43201 }'))).toEqual([
      "ensembles/e.yaml:4:36: action 'send' needs 'queue'",
      "ensembles/e.yaml:4:42: a queue is named by 'queue:', not 'binding:'",
      "ensembles/e.yaml:4:81: 'delaySeconds' must be at most 43200 (got 43201)",
    ]);
    expect(problems(one('storage', `{ type: kv, action: get, key: "${'k'.repeat(513)}" }`))).toEqual([
      `ensembles/e.yaml:4:43: the key is 513 bytes; a kv key is at most ${LIMITS.kvKeyBytes} (LIMITS.kvKeyBytes)`,
    ]);
    // With expressions, what can be known is still checked: the key is there, only its value is not.
    expect(problems(one('storage', '{ type: kv, action: put, key: "${input.k}", value: "${input.v}" }'))).toEqual([]);
  });

  it('hostile values: too large to put, to send or to get, too deep to get, a key too long; each refused by name', async () => {
    const euro = '€'.repeat(80_000); // 240 KB of run input, 3 bytes a character
    const big = await step('storage', '{ type: kv, action: put, key: k, value: "${input.s}${input.s}${input.s}${input.s}${input.s}" }', { s: euro });
    expect(big.error).toMatchObject({ code: 'VALUE_TOO_LARGE', message: expect.stringContaining(`at most ${LIMITS.storageValueBytes} (LIMITS.storageValueBytes)`) });
    const message = await step('storage', '{ type: queue, action: send, queue: QUEUE, body: { s: "${input.s}" } }', { s: 'x'.repeat(130 * 1024) });
    expect(message.error).toMatchObject({ code: 'VALUE_TOO_LARGE', message: expect.stringContaining('(LIMITS.queueMessageBytes)') });
    const key = await step('storage', '{ type: kv, action: get, key: "${input.k}" }', { k: 'é'.repeat(300) });
    expect(key.error).toMatchObject({ code: 'KEY_TOO_LARGE', message: expect.stringContaining('600 bytes') });

    const id = crypto.randomUUID();
    await env.KV.put(`huge-${id}`, 'x'.repeat(LIMITS.stepOutputBytes + 1));
    await env.BUCKET.put(`huge-${id}`, 'x'.repeat(LIMITS.stepOutputBytes + 1));
    await env.KV.put(`deep-${id}`, `${'['.repeat(200)}${']'.repeat(200)}`);
    for (const type of ['kv', 'r2']) {
      expect((await step('storage', `{ type: ${type}, action: get, key: huge-${id} }`)).error).toMatchObject({ code: 'VALUE_TOO_LARGE', message: expect.stringContaining("the most a step's output holds") });
    }
    expect((await step('storage', `{ type: kv, action: get, key: deep-${id} }`)).error).toMatchObject({ code: 'VALUE_TOO_DEEP' });
  });

  it('conductor\'s spelling: the fixture runs as written (definitions, a flow, expirationTtl)', async () => {
    const id = crypto.randomUUID();
    const { run } = appWith({ 'conductor-storage': storageFixture });
    const { status, body } = await run('conductor-storage', { id, name: 'Ada' });
    expect(status).toBe(200);
    expect(body.output).toEqual({ profile: { name: 'Ada', plan: 'pro' }, archived: `exports/${id}.json`, queued: { ok: true, queue: 'QUEUE' } });
    expect(JSON.parse((await (await env.BUCKET.get(`exports/${id}.json`))!.text()))).toEqual({ name: 'Ada', plan: 'pro' });
  });
});

describe('transform', () => {
  const users = [
    { id: 2, name: 'Bob', role: 'member', password: 'b' },
    { id: 1, name: 'Ada', role: 'admin', password: 'a', status: 'away' },
    { id: 3, name: 'Cy', role: 'member', password: 'c' },
  ];

  it('input (default the step\'s input) through merge, defaults, filter, sort, pick, omit; value as it is', async () => {
    expect((await step('transform', '{ input: "${input.users}", defaults: { status: active }, filter: { role: member }, sort: { by: id, order: desc }, omit: [password] }', { users })).output)
      .toEqual([{ id: 3, name: 'Cy', role: 'member', status: 'active' }, { id: 2, name: 'Bob', role: 'member', status: 'active' }]);
    expect((await step('transform', '{ input: "${input.users}", sort: name, pick: [name, status] }', { users })).output)
      .toEqual([{ name: 'Ada', status: 'away' }, { name: 'Bob' }, { name: 'Cy' }]);
    // The step's own input, when config names none.
    const name = `t-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: 'agents:\n  - name: s\n    operation: transform\n    input: { a: 1, b: 2, secret: x }\n    config: { omit: [secret], merge: { c: 3 } }\n' });
    expect((await app.run(name)).body.output.s).toEqual({ a: 1, b: 2, c: 3 });
    // merge alone combines its items: objects shallowly (later wins), lists concatenated.
    expect((await step('transform', '{ merge: [{ a: 1, b: 1 }, { b: 2 }, "${input.more}"] }', { more: { c: 3 } })).output).toEqual({ a: 1, b: 2, c: 3 });
    expect((await step('transform', '{ input: [1, 2], merge: [[3], [4, 5]] }')).output).toEqual([1, 2, 3, 4, 5]);
    expect((await step('transform', '{ value: { literal: "${input.x}" } }', { x: [1] })).output).toEqual({ literal: [1] });
    expect((await step('transform', '{ input: "${input.users}", pick: [id], format: json }', { users })).output).toBe('[{"id":2},{"id":1},{"id":3}]');
  });

  it('CSV: RFC 4180 quoting, and a cell a spreadsheet would run as a formula gets a leading apostrophe', async () => {
    const rows = [
      { a: '=1+2', b: -5, c: '-5', d: 'x,"y"', e: 'line\nbreak' },
      { a: '@SUM(A1)', b: '+1', c: '\tTAB', d: { nested: true }, e: null },
    ];
    const { output } = await step('transform', '{ input: "${input.rows}", format: csv }', { rows });
    expect(output).toBe([
      'a,b,c,d,e',
      "'=1+2,-5,'-5,\"x,\"\"y\"\"\",\"line\nbreak\"",
      "'@SUM(A1),'+1,'\tTAB,\"{\"\"nested\"\":true}\",",
    ].join('\r\n'));
    const named = await step('transform', '{ input: "${input.rows}", format: csv, columns: [e, "=cmd"] }', { rows });
    expect(named.output).toBe(`e,'=cmd\r\n"line\nbreak",\r\n,`);
  });

  it('__proto__, constructor and prototype: refused where the config names a field, left out of what it builds; nothing is polluted', async () => {
    expect(problems(one('transform', '{ pick: [name, __proto__], omit: [constructor], sort: prototype }'))).toEqual([
      "ensembles/e.yaml:4:28: '__proto__' cannot name a field: it reaches an object's prototype",
      "ensembles/e.yaml:4:47: 'constructor' cannot name a field: it reaches an object's prototype",
      "ensembles/e.yaml:4:67: 'prototype' cannot name a field: it reaches an object's prototype",
    ]);
    expect(problems(one('transform', '{ defaults: { constructor: 1 } }'))).toEqual(["ensembles/e.yaml:4:27: 'constructor' cannot name a field: it reaches an object's prototype"]);
    const dynamic = await step('transform', '{ input: {}, pick: "${input.keys}" }', { keys: ['constructor'] });
    expect(dynamic.error).toMatchObject({ code: 'UNSAFE_KEY' });
    // A run input with a `__proto__` key is refused at the door; a stored value (or an HTTP answer)
    // may still carry one, as an own key that JSON.parse makes: transform does not copy it.
    const hostile = '{"__proto__":{"polluted":true},"x":1}';
    expect((await step('transform', '{ input: "${input.a}" }', JSON.parse(`{"a":${hostile}}`))).status).toBe(400);
    const key = `proto-${crypto.randomUUID()}`;
    await env.KV.put(key, hostile);
    const { run } = appWith({ proto: `agents:
  - name: got
    operation: storage
    config: { type: kv, action: get, key: ${key} }
  - name: merged
    operation: transform
    config: { input: "\${got.output}", merge: ["\${got.output}", { y: 2 }], defaults: { d: 1 } }
  - name: picked
    operation: transform
    config: { input: "\${got.output}", omit: [y] }
  - name: csv
    operation: transform
    config: { input: ["\${got.output}"], format: csv }
` });
    const { body } = await run('proto');
    expect(body.output.merged).toEqual({ x: 1, y: 2, d: 1 });
    expect(Object.keys(body.output.merged)).toEqual(['x', 'y', 'd']);
    expect(Object.keys(body.output.picked)).toEqual(['x']);
    expect(body.output.csv).toBe('x\r\n1');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('bounded: too many items, too deep, a list operation on an object, value with another key', async () => {
    const many = await step('transform', '{ input: "${input.xs}", sort: n }', { xs: Array.from({ length: LIMITS.transformItems + 1 }, () => 0) });
    expect(many.error).toMatchObject({ code: 'TOO_MANY_ITEMS', message: expect.stringContaining('(LIMITS.transformItems)') });
    // The run input may be 64 levels deep; the config's own nesting takes it past what any value may be.
    let deep: unknown = 1;
    for (let i = 0; i < 62; i++) deep = [deep];
    const tooDeep = await step('transform', '{ input: { a: [["${input.d}"]] }, pick: [a] }', { d: deep });
    expect(tooDeep.error).toMatchObject({ code: 'VALUE_TOO_DEEP', message: `transform: the input is nested more than ${LIMITS.valueDepth} levels deep` });
    expect((await step('transform', '{ input: { a: 1 }, filter: { a: 1 } }')).error).toMatchObject({ code: 'TRANSFORM_INVALID', message: 'transform: filter applies to a list, not to an object' });
    expect((await step('transform', '{ input: { a: 1 }, merge: [{ b: 2 }, [3]] }')).error).toMatchObject({ code: 'TRANSFORM_INVALID', message: 'transform: merge item 1 is a list: it cannot be merged into an object' });
    expect((await step('transform', '{ input: [1, { a: 1 }], pick: [a] }')).error).toMatchObject({ code: 'TRANSFORM_INVALID', message: 'transform: pick: item 0 is not an object' });
    expect(problems(one('transform', '{ value: 1, pick: [a], columns: [a] }'))).toEqual([
      "ensembles/e.yaml:4:25: 'value' is the output as it is: 'pick' does not go with it",
      "ensembles/e.yaml:4:36: 'value' is the output as it is: 'columns' does not go with it",
    ]);
  });

  it('conductor\'s spelling: the fixture runs as written; its CSV defeats the formula in the data', async () => {
    const { run } = appWith({ 'conductor-transform': transformFixture });
    const { status, body } = await run('conductor-transform');
    expect(status).toBe(200);
    expect(body.output.users.map((u: any) => u.name)).toEqual(['=HYPERLINK("http://evil.example")', 'Alice Johnson', 'Bob Smith']);
    expect(body.output.users.every((u: any) => !('password' in u))).toBe(true);
    expect(body.output.csv).toBe([
      'id,name,email,status',
      `3,"'=HYPERLINK(""http://evil.example"")",mallory@example.com,banned`,
      '1,Alice Johnson,alice@example.com,active',
      '2,Bob Smith,bob@example.com,active',
    ].join('\r\n'));
  });
});

describe('html', () => {
  it('a Liquid template: values escaped (a <script> in the data is text), | raw as written, no prototype reached', async () => {
    const data = { name: '<script>alert(1)</script>', items: ['<b>', '{{x}}'], obj: { a: 1 } };
    const { output } = await step('html', `{ template: "<h1>{{ name }}</h1><ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>{{ '<hr>' | raw }}{{ obj.constructor }}{{ obj.__proto__ }}", data: "\${input}" }`, data);
    expect(output).toEqual({ html: '<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1><ul><li>&lt;b&gt;</li><li>&#123;&#123;x&#125;&#125;</li></ul><hr>' });
    // Variables default to the step's input.
    const name = `h-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: 'agents:\n  - name: s\n    operation: html\n    input: { who: "<i>Ada</i>" }\n    config: { template: "Hi {{ who }}" }\n' });
    expect((await app.run(name)).body.output.s).toEqual({ html: 'Hi &lt;i&gt;Ada&lt;/i&gt;' });
  });

  it('Markdown (raw HTML in it is text, unsafe links are not links), and a whole page with an escaped title', async () => {
    const { output } = await step('html', '{ markdown: "# Hi {{ who }}\\n\\n<img src=x onerror=alert(1)> [x](javascript:alert(1))", data: { who: "${input.who}" }, page: { title: "${input.title}", lang: de } }', { who: '<b>Ada</b>', title: '</title><script>' });
    expect(output.html).toBe('<!DOCTYPE html>\n<html lang="de">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
      + '<title>&lt;/title&gt;&lt;script&gt;</title>\n</head>\n<body>\n'
      + '<h1>Hi &lt;b&gt;Ada&lt;/b&gt;</h1>\n<p>&lt;img src=x onerror=alert(1)&gt; [x](javascript:alert(1))</p>\n\n</body>\n</html>\n');
  });

  it('load time: a template that splices ${...}, that does not parse, reads files, or is too long; one of template or markdown', () => {
    expect(problems(one('html', '{ template: "<p>${input.name}</p>" }'))).toEqual([
      "ensembles/e.yaml:4:25: the template holds ${...}: its value would be spliced into the template unescaped. Pass values in 'data:' and write {{ name }}",
    ]);
    expect(problems(one('html', '{ template: "{% if x %}open" }'))).toEqual([expect.stringMatching(/^ensembles\/e\.yaml:4:25: tag \{% if x %\} not closed, line:1, col:1/)]);
    expect(problems(one('html', '{ template: "{{ x | shell }}" }'))).toEqual(['ensembles/e.yaml:4:25: undefined filter: shell, line:1, col:1']);
    expect(problems(one('html', '{ template: "{% include \'x\' %}" }'))).toEqual([expect.stringContaining('{% include %} is not available: there are no template files')]);
    expect(problems(one('html', `{ template: "${'x'.repeat(LIMITS.htmlTemplateChars + 1)}" }`))).toEqual([
      `ensembles/e.yaml:4:25: the template is ${LIMITS.htmlTemplateChars + 1} characters; at most ${LIMITS.htmlTemplateChars} (LIMITS.htmlTemplateChars)`,
    ]);
    expect(problems(one('html', '{ data: {} }'))).toEqual(["ensembles/e.yaml:4:13: write one of 'template' (HTML) or 'markdown'"]);
    // A whole template from a value (kept in storage, say) is the author's to trust: it loads.
    expect(problems(one('html', '{ template: "${input.template}" }'))).toEqual([]);
  });

  it('bounded: loops over loops, huge ranges and doubling captures stop at the render budget; a long template from a value is refused', async () => {
    const items = Array.from({ length: 1000 }, (_, i) => i);
    const started = Date.now();
    const cases = [
      '{% for a in items %}{% for b in items %}{% endfor %}{% endfor %}',
      '{% for a in (1..100000000) %}x{% endfor %}',
      '{% assign x = "ab" %}{% for a in (1..60) %}{% capture x %}{{ x }}{{ x }}{% endcapture %}{% endfor %}{{ x | size }}',
    ];
    for (const template of cases) {
      const r = await step('html', '{ template: "${input.template}", data: { items: "${input.items}" } }', { template, items });
      expect(r.error, template).toMatchObject({ code: 'TEMPLATE_LIMIT', message: expect.stringMatching(/\(LIMITS\.(htmlRenders|renderedWorkChars)\)$/) });
    }
    expect(Date.now() - started).toBeLessThan(10_000);
    const long = await step('html', '{ template: "${input.template}" }', { template: 'x'.repeat(LIMITS.htmlTemplateChars + 1) });
    expect(long.error).toMatchObject({ code: 'TEMPLATE_TOO_LARGE' });
  });

  it('conductor\'s spelling: the fixture runs as written (template: { inline }, markdown, page)', async () => {
    const { run } = appWith({ 'conductor-html': htmlFixture });
    const { status, body } = await run('conductor-html', { title: 'Order <42>', items: [{ name: 'Tea & cake', price: 4.5 }], note: '**paid**' });
    expect(status).toBe(200);
    expect(body.output.page).toContain('<title>Order summary</title>');
    expect(body.output.page).toContain('<h1>Order &lt;42&gt;</h1>\n<ul><li>Tea &amp; cake: 4.5</li></ul>');
    expect(body.output.notes).toBe('<h2>Notes</h2>\n<p><strong>paid</strong></p>\n');
  });
});

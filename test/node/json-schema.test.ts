import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse, parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';

// The JSON Schema editors use (docs/ensemble.schema.json), checked the way an editor would: by a
// JSON-Schema validator over every shipped example and every YAML block of README/docs (all
// pass), and over mistakes (each flagged at its path).
const root = fileURLToPath(new URL('../..', import.meta.url));
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(join(root, 'docs/ensemble.schema.json'), 'utf8')));
const errorsOf = (value: unknown) => (validate(value) ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message}`));
const SCHEMA_LINE = '# yaml-language-server: $schema=../docs/ensemble.schema.json';

/** Every ```yaml block of README.md and docs/*.md except those marked `yaml broken` (the mistakes corpus). */
function docBlocks(): { where: string; source: string }[] {
  const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  return files.flatMap((file) => {
    const text = readFileSync(join(root, file), 'utf8');
    return [...text.matchAll(/^```yaml([^\n]*)\n([\s\S]*?)^```/gm)]
      .filter((m) => !m[1]!.includes('broken'))
      .map((m) => ({ where: `${file}:${text.slice(0, m.index).split('\n').length}`, source: m[2]! }));
  });
}

describe('the JSON Schema, as an editor applies it', () => {
  it('accepts every shipped example', () => {
    const files = readdirSync(join(root, 'ensembles')).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(12);
    for (const file of files) expect(errorsOf(parse(readFileSync(join(root, 'ensembles', file), 'utf8'))), file).toEqual([]);
  });

  it('every YAML block in README and docs is plain YAML, points at the schema, and passes it', () => {
    const blocks = docBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    for (const { where, source } of blocks) {
      expect(source.split('\n')[0], where).toBe(SCHEMA_LINE);
      expect(parseDocument(source).errors.map((e) => e.message), where).toEqual([]);
      expect(errorsOf(parse(source)), where).toEqual([]);
    }
  });

  const step = (s: Record<string, unknown>) => ({ agents: [{ name: 's', ...s }] });
  const cases: [string, unknown, string][] = [
    ['an unknown operation', step({ operation: 'teleport' }), '/agents/0/operation'],
    ['a misspelt http config key', step({ operation: 'http', config: { url: 'https://x.example', methd: 'POST' } }), '/agents/0/config'],
    ['an http method that does not exist', step({ operation: 'http', config: { url: 'https://x.example', method: 'FETCH' } }), '/agents/0/config/method'],
    ['a misspelt hitl input', step({ agent: 'hitl', inputs: { approvers: ['a@example.com'], minApprovls: 2 } }), '/agents/0/inputs'],
    ['a config-style key under inputs', step({ agent: 'hitl', inputs: { notificationChannel: 'email' } }), '/agents/0/inputs'],
    ['an unknown channel', step({ agent: 'hitl', config: { notificationChannel: 'pigeon' } }), '/agents/0/config/notificationChannel'],
    ['minApprovals that is neither a number nor an expression', step({ agent: 'hitl', inputs: { minApprovals: 'two' } }), '/agents/0/inputs/minApprovals'],
    ['a misspelt notificationConfig key', step({ operation: 'hitl', config: { notificationConfig: { webhookURL: 'https://x' } } }), '/agents/0/config/notificationConfig'],
    ['a think step without a prompt', step({ operation: 'think', config: { model: 'm' } }), '/agents/0/config'],
    ['an unknown key of a kv data step', step({ operation: 'data', config: { backend: 'kv', operation: 'get', key: 'k', sql: 'x' } }), '/agents/0/config'],
    ['retry attempts of 0', step({ operation: 'code', config: { script: 'greet' }, retry: { attempts: 0 } }), '/agents/0/retry/attempts'],
    ['both input and inputs', step({ operation: 'code', config: { script: 'greet' }, input: {}, inputs: {} }), '/agents/0'],
    ['neither operation nor agent', step({ config: {} }), '/agents/0'],
    ['an unknown top-level key', { version: 2, ...step({ operation: 'code', config: { script: 'greet' } }) }, ''],
    ['an unknown step key', step({ operation: 'code', config: { script: 'greet' }, inptu: {} }), '/agents/0'],
  ];
  it.each(cases)('flags %s at its path', (_, value, path) => {
    const errors = errorsOf(value);
    expect(errors.some((e) => e.startsWith(`${path} `)), errors.join('\n')).toBe(true);
  });

  it('accepts an expression wherever a config or input value goes, and the conductor spellings', () => {
    expect(errorsOf({
      outputs: { ok: '${review.output.approved}' },
      agents: [
        { name: 'call', operation: 'http', config: { url: '${env.API_URL}', method: '${input.method}', timeout: '${input.t}', retries: '${input.n}' } },
        { name: 'review', operation: 'hitl', inputs: { approvers: ['${env.ADMIN_EMAIL}'], minApprovals: '${Math.ceil(approvers.length / 2)}', requireVerified: '${input.strict}' } },
        { name: 'tell', agent: 'hitl', config: { notificationChannel: '${input.channel}', timeout: 3600000 } },
        // The "$env.NAME" shorthand, and a hitl step whose whole inputs are one expression.
        { name: 'env', operation: 'http', config: { url: '$env.API_URL', throwOnError: '$env.STRICT' } },
        { name: 'gate', agent: 'hitl', inputs: '${input.gate}' },
      ],
    })).toEqual([]);
  });

  it('carries hover docs: descriptions, defaults and examples of hitl fields', () => {
    const schema = JSON.parse(readFileSync(join(root, 'docs/ensemble.schema.json'), 'utf8'));
    const hitl = schema.properties.agents.items.allOf.find((b: { then: { properties: { inputs?: unknown } } }) => b.then.properties.inputs).then.properties;
    // A nested mapping may itself be an expression: its own schema is the first branch.
    const mapping = (node: { anyOf?: any[] }): any => node.anyOf?.[0] ?? node;
    const inputs = mapping(hitl.inputs);
    const min = inputs.properties.minApprovals;
    expect(min.description).toMatch(/Distinct approvals/);
    expect(min.default).toBe(1);
    expect(min.examples).toEqual([2]);
    expect(inputs.properties.timeout.description).toMatch(/SECONDS/);
    expect(hitl.config.properties.timeout.description).toMatch(/MILLISECONDS/);
    expect(mapping(hitl.config.properties.notificationConfig).properties.channel.description).toMatch(/C0123456789/);
  });
});

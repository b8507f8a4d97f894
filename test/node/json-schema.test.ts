import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse, parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/ensemble/duration';
import { durationPattern } from '../../src/ensemble/schema';

// The JSON Schema editors use (docs/ensemble.schema.json), checked the way an editor would: by a
// JSON-Schema validator over every shipped example and every YAML block of README/docs (all
// pass), and over mistakes (each flagged at its path).
const root = fileURLToPath(new URL('../..', import.meta.url));
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
// markdownDescription (hover), errorMessage and patternErrorMessage are yaml-language-server's own keywords.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, keywords: ['markdownDescription', 'errorMessage', 'patternErrorMessage'] });
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
    ['an unknown top-level key', { versoin: 2, ...step({ operation: 'code', config: { script: 'greet' } }) }, ''],
    ['an unknown step key', step({ operation: 'code', config: { script: 'greet' }, inptu: {} }), '/agents/0'],
    ['both operation and agent', step({ operation: 'code', agent: 'hitl', config: { script: 'greet' } }), '/agents/0'],
    ['both output and outputs', { output: 1, outputs: 2, ...step({ operation: 'code', config: { script: 'greet' } }) }, ''],
    ['a negative hitl timeout', step({ agent: 'hitl', inputs: { timeout: -5 } }), '/agents/0/inputs/timeout'],
    ['a hitl timeout of 0', step({ agent: 'hitl', config: { timeout: 0 } }), '/agents/0/config/timeout'],
    ['a hitl timeout in an unknown unit', step({ agent: 'hitl', config: { timeout: '1 fortnight' } }), '/agents/0/config/timeout'],
    ['a hitl timeout over 365 days', step({ agent: 'hitl', inputs: { timeout: 40_000_000 } }), '/agents/0/inputs/timeout'],
    ['a reminder after "0s"', step({ agent: 'hitl', inputs: { remindAfter: '0s' } }), '/agents/0/inputs/remindAfter'],
    ['an http timeout of "soon"', step({ operation: 'http', config: { url: 'https://x.example', timeout: 'soon' } }), '/agents/0/config/timeout'],
    ['a negative http backoff', step({ operation: 'http', config: { url: 'https://x.example', backoff: -1 } }), '/agents/0/config/backoff'],
    ['a retry backoff without a number', step({ operation: 'code', config: { script: 'greet' }, retry: { attempts: 2, backoff: 'later' } }), '/agents/0/retry/backoff'],
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
        // Durations in any unit and case parseDuration reads, and as expressions.
        { name: 'wait', agent: 'hitl', inputs: { timeout: '2 weeks', remindAfter: '90 Minutes', escalateAfter: '${input.t}', escalateTo: ['b@example.com'] }, config: { timeout: 1.5 } },
        { name: 'slow', operation: 'http', config: { url: 'https://x.example', timeout: '1.5 s', backoff: 0 }, retry: { attempts: 2, backoff: '250MS' } },
      ],
    })).toEqual([]);
  });

  it('reads a duration string exactly as the runtime does', () => {
    const samples = ['500ms', '30s', '24h', '7 days', ' 90 Minutes ', '1.5h', '3600', '2 WEEKS', '1 sec', '5 mins', '2 hrs',
      '1 fortnight', 'soon', '-5s', '5 s s', '1e3', '.5h', '', 'h', '1 month', '10 y'];
    const accepts = (pattern: string, value: string) => new RegExp(pattern).test(value);
    for (const value of samples) {
      let parsed: number | undefined;
      try { parsed = parseDuration(value); } catch { parsed = undefined; }
      expect(accepts(durationPattern(), value), value).toBe(parsed !== undefined);
      expect(accepts(durationPattern(true), value), value).toBe(parsed !== undefined && parsed > 0);
    }
    expect(accepts(durationPattern(true), '0s')).toBe(false);
    expect(accepts(durationPattern(true), '0.5s')).toBe(true);
  });

  it('carries hover docs: descriptions, defaults and examples of hitl fields, as Markdown', () => {
    const schema = JSON.parse(readFileSync(join(root, 'docs/ensemble.schema.json'), 'utf8'));
    const deref = (node: any): any => (node.$ref ? schema.definitions[node.$ref.replace('#/definitions/', '')] : node);
    const hitl = schema.definitions.step.oneOf.find((b: any) => b.properties.agent?.const === 'hitl' && !b.required.includes('input')).properties;
    // A nested mapping may itself be an expression: its own schema is the first branch.
    const mapping = (node: { anyOf?: any[] }): any => deref(node.anyOf?.[0] ?? node);
    const inputs = mapping(hitl.inputs);
    const min = inputs.properties.minApprovals;
    expect(min.description).toMatch(/Distinct approvals/);
    expect(min.default).toBe(1);
    expect(min.examples).toEqual([2]);
    expect(min.markdownDescription).toBe(min.description);
    expect(inputs.properties.timeout.description).toMatch(/SECONDS/);
    const config = deref(hitl.config);
    expect(config.properties.timeout.description).toMatch(/MILLISECONDS/);
    expect(mapping(config.properties.notificationConfig).properties.channel.description).toMatch(/C0123456789/);
    expect(deref(hitl.name).markdownDescription).toBe('The step name, unique in the file; later steps read its result as `${name.output}`.');
  });

  it('lists each key of a step once, only beside the keys it can go with', () => {
    const schema = JSON.parse(readFileSync(join(root, 'docs/ensemble.schema.json'), 'utf8'));
    const branches: { properties: Record<string, unknown>; additionalProperties: boolean; not?: unknown }[] = schema.definitions.step.oneOf;
    // Each kind of step is a closed branch with one kind key, one config and one spelling of its input;
    // a step of no kind yet matches only the last, which offers the kind keys and nothing kind-specific.
    // 8 operations, hitl and wait (each also as `operation: hitl|wait`), each with `input` or
    // `inputs`, and a library agent.
    const kinds = branches.filter((b) => !b.not);
    expect(kinds).toHaveLength(26);
    for (const branch of kinds) {
      const keys = Object.keys(branch.properties);
      expect(branch.additionalProperties).toBe(false);
      expect(keys.filter((k) => k === 'operation' || k === 'agent'), keys.join()).toHaveLength(1);
      expect(keys.filter((k) => k === 'input' || k === 'inputs'), keys.join()).toHaveLength(1);
      expect(keys.filter((k) => k === 'config'), keys.join()).toHaveLength(1);
    }
    expect(Object.keys(branches.at(-1)!.properties)).toEqual(['name', 'description', 'operation', 'agent', 'condition', 'onError', 'retry', 'timeout', 'onTimeout', 'cache']);
    expect(schema.properties).toBeUndefined();
    expect(schema.oneOf.map((b: { properties: object }) => Object.keys(b.properties).filter((k) => k.startsWith('output')))).toEqual([['output'], ['outputs']]);
  });
});

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { ensembleJsonSchema } from '../../src/ensemble/json-schema';
import { stepKinds } from '../../src/kinds';
import { projectCopy } from '../support/dev-server';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('docs/ensemble.schema.json is the schema generated from zod (run `npm run schema` after changing it)', () => {
  const committed = JSON.parse(readFileSync(join(root, 'docs/ensemble.schema.json'), 'utf8'));
  expect(committed).toEqual(JSON.parse(JSON.stringify(ensembleJsonSchema(stepKinds))));
});

it('npm run validate reports every problem with file:line:col and exits non-zero', () => {
  const dir = mkdtempSync(join(tmpdir(), 'validate-'));
  writeFileSync(join(dir, 'good.yaml'), 'agents:\n  - name: a\n    operation: code\n    config: { script: greet }\n');
  writeFileSync(join(dir, 'bad.yaml'), 'agents:\n  - name: a\n    operation: nope\n  - name: b\n    operation: code\n    config: { script: greet }\n    input: { x: "${zzz.output}" }\n');
  const bad = spawnSync(process.execPath, ['tools/validate.mjs', join(dir, 'good.yaml'), join(dir, 'bad.yaml')], { cwd: root, encoding: 'utf8' });
  expect(bad.status).toBe(1);
  expect(bad.stderr).toContain("bad.yaml:3:16: unknown operation 'nope' (expected one of: code, http, think, email, data, storage, transform, html)");
  expect(bad.stderr).toContain("bad.yaml:7:20: unknown name 'zzz'");
  expect(bad.stdout).toContain('1 of 2 ensemble file(s) valid');
  const good = spawnSync(process.execPath, ['tools/validate.mjs'], { cwd: root, encoding: 'utf8' });
  expect(good.status).toBe(0);
  expect(good.stdout).toMatch(/ok {2}ensembles\/hello\.yaml/);
});

it('npm run validate checks agents/, prompts/ and configs/ too, and names conductor\'s old members/ layout', () => {
  const dir = projectCopy();
  try {
    mkdirSync(join(dir, 'agents', 'broken'), { recursive: true });
    writeFileSync(join(dir, 'agents', 'broken', 'agent.yaml'), 'operation: thinkk\n');
    mkdirSync(join(dir, 'configs'), { recursive: true });
    writeFileSync(join(dir, 'configs', 'model.yaml'), 'provider: openai\ntemperature: 0.2\n');
    mkdirSync(join(dir, 'members', 'greet'), { recursive: true });
    writeFileSync(join(dir, 'members', 'greet', 'member.yaml'), 'name: greet\ntype: think\n');
    writeFileSync(join(dir, 'ensembles', 'zz-uses.yaml'), 'agents:\n  - { name: a, operation: think, config: { component: model, prompt: hi } }\n  - { name: b, agent: broken }\n');
    const r = spawnSync(process.execPath, ['tools/validate.mjs'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("agents/broken/agent.yaml:1:12: unknown operation 'thinkk' — did you mean 'think'?");
    expect(r.stderr).toMatch(/members\/greet\/member.yaml:1:1: conductor's old layout .* is not read: move it to agents\/<name>\/agent.yaml/);
    expect(r.stderr).toMatch(/zz-uses.yaml:3:.*agent 'broken' is defined in agents\/broken\/agent.yaml, which does not load/);
    expect(r.stdout).toMatch(/ok {2}configs\/model.yaml \(component model\)/);
    expect(r.stdout).toMatch(/ok {2}agents\/check-username\/agent.yaml \(agent check-username@1.0.0\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('the generated registry records whether each ensemble loads, as the Worker\'s loader decides', () => {
  const dir = projectCopy();
  try {
    writeFileSync(join(dir, 'ensembles', 'zz-broken.yaml'), 'agents:\n  - name: a\n    operation: nope\n');
    writeFileSync(join(dir, 'ensembles', 'zz-missing-script.yaml'), 'agents:\n  - name: a\n    operation: code\n    config: { script: not-there }\n');
    // Hostile files: 10,000 levels deep, and over the size limit of a file (256 KiB; a 10 MB file
    // takes the same path, only slower). The check still runs; they do not load.
    writeFileSync(join(dir, 'ensembles', 'zz-deep.yaml'), `agents: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`);
    writeFileSync(join(dir, 'ensembles', 'zz-huge.yaml'), `description: "${'x'.repeat(300 * 1024)}"\nagents:\n  - name: a\n    operation: code\n    config: { script: greet }\n`);
    // One webhook path claimed by two ensembles: neither loads (GET /healthz counts both).
    for (const n of ['zz-hook-a', 'zz-hook-b']) writeFileSync(join(dir, 'ensembles', `${n}.yaml`), 'trigger:\n  - { type: webhook, path: /hooks/same, public: true }\nagents:\n  - { name: a, operation: code, config: { script: greet } }\n');
    const gen = spawnSync(process.execPath, ['tools/gen-registry.mjs'], { cwd: dir, encoding: 'utf8' });
    expect(gen.status, gen.stderr).toBe(0);
    const generated = readFileSync(join(dir, 'generated', 'registry.ts'), 'utf8');
    const files = JSON.parse(/export const ensembleFiles: [^=]+= (\[[\s\S]*?\]);\n/.exec(generated)![1]!) as { file: string; valid?: boolean }[];
    const valid = Object.fromEntries(files.map((f) => [f.file, f.valid]));
    expect(valid['ensembles/zz-broken.yaml']).toBe(false);
    expect(valid['ensembles/zz-missing-script.yaml']).toBe(false);
    expect(valid['ensembles/zz-deep.yaml']).toBe(false);
    expect(valid['ensembles/zz-huge.yaml']).toBe(false);
    expect([valid['ensembles/zz-hook-a.yaml'], valid['ensembles/zz-hook-b.yaml']]).toEqual([false, false]);
    expect(valid['ensembles/hello.yaml']).toBe(true);
    expect(files.every((f) => typeof f.valid === 'boolean')).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('the shipped Slack app manifest points at the interactions route and grants every scope the code uses', async () => {
  const { parse } = await import('yaml');
  const manifest = parse(readFileSync(join(root, 'docs/slack-app-manifest.yaml'), 'utf8'));
  expect(new URL(manifest.settings.interactivity.request_url).pathname).toBe('/slack/interactions');
  expect(manifest.settings.interactivity.is_enabled).toBe(true);
  // Every Web API method the Worker calls, and the bot scopes Slack requires for it.
  const needs: Record<string, string[]> = { 'chat.postMessage': ['chat:write'], 'chat.update': ['chat:write'], 'users.info': ['users:read', 'users:read.email'], 'views.open': [] };
  const sources = ['src/notify/slack.ts', 'src/notify/slack-api.ts', 'src/http/routes-slack.ts'].map((f) => readFileSync(join(root, f), 'utf8')).join('\n');
  const called = [...sources.matchAll(/slackApi\(\s*[\w.]+,\s*'([\w.]+)'/g)].map((m) => m[1]!);
  expect(new Set(called)).toEqual(new Set(Object.keys(needs)));
  for (const method of called) expect(manifest.oauth_config.scopes.bot).toEqual(expect.arrayContaining(needs[method]!));
});

it('a production build (wrangler deploy --dry-run) ships no local values, and npm run deploy refuses placeholder ids', () => {
  const out = mkdtempSync(join(tmpdir(), 'dry-'));
  const dry = spawnSync(process.execPath, ['node_modules/wrangler/bin/wrangler.js', 'deploy', '--dry-run', '--outdir', out], {
    cwd: root, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' }, timeout: 120_000,
  });
  expect(dry.status, dry.stderr).toBe(0);
  const bindings = dry.stdout.slice(dry.stdout.indexOf('bindings'));
  expect(bindings).toContain('env.HITL_STATE (HITLState)');
  expect(bindings).toContain('env.DB (ensemble-hitl)');
  expect(bindings).not.toMatch(/127\.0\.0\.1|localhost/);
  expect(readFileSync(join(out, 'index.js'), 'utf8').length).toBeGreaterThan(100_000);
  const refused = spawnSync(process.execPath, ['tools/deploy.mjs'], { cwd: root, encoding: 'utf8' });
  expect(refused.status).toBe(1);
  expect(refused.stderr).toContain('the D1 database_id is the local placeholder');
}, 150_000);

it('src/worker-configuration.d.ts is what `wrangler types` generates from wrangler.toml (run `npm run types` after changing it)', () => {
  const check = 'src/worker-configuration.check.d.ts';
  try {
    const r = spawnSync(process.execPath, ['tools/gen-types.mjs', check], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    // Line 2 names the command that made the file (with a temporary path): everything else must match.
    const body = (path: string) => readFileSync(join(root, path), 'utf8').split('\n').filter((_, i) => i !== 1).join('\n');
    expect(body(check)).toBe(body('src/worker-configuration.d.ts'));
  } finally {
    rmSync(join(root, check), { force: true });
  }
}, 150_000);

it('every shipped example is plain YAML (any YAML tool reads it) and points editors at the JSON Schema', async () => {
  const { parseDocument } = await import('yaml');
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(join(root, 'ensembles')).filter((f) => f.endsWith('.yaml'));
  expect(files.length).toBeGreaterThanOrEqual(12);
  for (const file of files) {
    const source = readFileSync(join(root, 'ensembles', file), 'utf8');
    expect(parseDocument(source).errors.map((e) => `${file}: ${e.message}`)).toEqual([]);
    expect(source.split('\n')[0], file).toBe('# yaml-language-server: $schema=../docs/ensemble.schema.json');
  }
});

#!/usr/bin/env node
// `npm run deploy [-- wrangler deploy args]`: refuses to ship what only works locally (the
// placeholder D1/KV ids of wrangler.toml), then runs `wrangler deploy`. docs/deploy.md has the steps.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const toml = readFileSync(`${root}wrangler.toml`, 'utf8');
const problems = [];
if (/database_id\s*=\s*"0{8}-0{4}-0{4}-0{4}-0{12}"/.test(toml)) problems.push('the D1 database_id is the local placeholder: run `wrangler d1 create ensemble-hitl` and put its id in wrangler.toml');
if (/\bid\s*=\s*"0{32}"/.test(toml)) problems.push('the KV namespace id is the local placeholder: run `wrangler kv namespace create KV` and put its id in wrangler.toml');
if (/\bid\s*=\s*"0{28}cac1"/.test(toml)) problems.push('the STEP_CACHE KV namespace id is the local placeholder: run `wrangler kv namespace create STEP_CACHE` and put its id in wrangler.toml');
if (/127\.0\.0\.1|localhost/.test((/\[vars\]([\s\S]*?)(\n\[|$)/.exec(toml) ?? [])[1] ?? '')) problems.push('[vars] holds a local address: production values go in `wrangler secret put` or the dashboard');
if (problems.length && !args.includes('--dry-run')) {
  console.error(`Not deploying:\n- ${problems.join('\n- ')}\n(see docs/deploy.md; --dry-run builds anyway)`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['node_modules/wrangler/bin/wrangler.js', 'deploy', ...args], { cwd: root, stdio: 'inherit', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
process.exit(r.status ?? 1);

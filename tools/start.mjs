#!/usr/bin/env node
// `npm start [-- wrangler dev args]`: a local API key, the generated registry, local D1
// migrations, then `wrangler dev` (workerd, SQLite Durable Objects, local D1 and KV).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startDevReceiver } from './dev-receiver.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
process.chdir(root);
const args = process.argv.slice(2);
// No metrics, and no fetch of Cloudflare's `Request.cf` sample at start (offline it fails with a stack
// trace; request.cf then holds a placeholder).
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };
const wrangler = ['node_modules/wrangler/bin/wrangler.js'];

let apiKey;
if (!existsSync('.dev.vars')) {
  apiKey = randomBytes(24).toString('base64url');
  writeFileSync('.dev.vars', `# Local secrets for wrangler dev (git-ignored). Created by npm start.\nAPI_KEY=${apiKey}\n`);
  console.log(`Created .dev.vars with a new local API_KEY.`);
} else {
  apiKey = /^API_KEY\s*=\s*"?([^"\n]+)"?/m.exec(readFileSync('.dev.vars', 'utf8'))?.[1];
  if (!apiKey) console.warn('.dev.vars has no API_KEY: management routes will answer 503.');
}

// With no model configured, `operation: think` uses the development echo provider (it replies
// with the prompt), so the examples run offline. Any provider setting of yours wins.
const devVars = existsSync('.dev.vars') ? readFileSync('.dev.vars', 'utf8') : '';
const modelConfigured = /^(THINK_PROVIDER|OPENAI_API_KEY|ANTHROPIC_API_KEY)\s*=/m.test(devVars)
  || args.some((a) => /^(THINK_PROVIDER|OPENAI_API_KEY|ANTHROPIC_API_KEY):/.test(a))
  || ['THINK_PROVIDER', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY'].some((k) => process.env[k]);
const extraArgs = modelConfigured ? [] : ['--var', 'THINK_PROVIDER:echo'];

// Local development values (not in wrangler.toml, so `wrangler deploy` never ships them): the
// examples' receivers and recipients, unless given. HITL_DEV makes the console channel print links.
const portArg = args.findIndex((a) => a === '--port' || a.startsWith('--port='));
const port = portArg === -1 ? '8787' : args[portArg].includes('=') ? args[portArg].split('=')[1] : args[portArg + 1];
// The examples' endpoints (webhooks, payment API, CMS, GitHub) answer on this port, 12 above the
// Worker's, from tools/dev-receiver.mjs; a value you give wins.
const receiverPort = Number(port) + 12;
const receiver = `http://127.0.0.1:${receiverPort}`;
const given = (name) => args.some((a) => a.startsWith(`${name}:`)) || new RegExp(`^${name}\\s*=`, 'm').test(devVars);
const localDefaults = {
  HITL_DEV: 'true',
  ADMIN_EMAIL: 'admin@example.com',
  APPROVAL_WEBHOOK_URL: `${receiver}/approval-webhook`,
  SLACK_WEBHOOK_URL: `${receiver}/slack`,
  PAYMENT_API_URL: `${receiver}/payments/process`,
  CMS_PUBLISH_URL: `${receiver}/cms/publish`,
  GITHUB_API_URL: `${receiver}/github`,
  CONTENT_TEAM: 'content-team@example.com',
  ESCALATION_EMAIL: 'escalations@example.com',
};
for (const [name, value] of Object.entries(localDefaults)) if (!given(name)) extraArgs.push('--var', `${name}:${value}`);
if (!modelConfigured) console.log('No model provider configured: operation think uses the echo provider (replies with the prompt).');

const gen = spawnSync(process.execPath, ['tools/gen-registry.mjs'], { stdio: 'inherit' });
if (gen.status !== 0) process.exit(gen.status ?? 1);
spawnSync(process.execPath, ['tools/validate.mjs', '--warn'], { stdio: 'inherit' });

// Local D1 migrations go to the same state directory wrangler dev will use.
const persist = args.findIndex((a) => a === '--persist-to' || a.startsWith('--persist-to='));
const persistArgs = persist === -1 ? [] : args[persist].includes('=') ? [args[persist]] : [args[persist], args[persist + 1]];
const migrate = spawnSync(process.execPath, [...wrangler, 'd1', 'migrations', 'apply', 'DB', '--local', ...persistArgs], {
  env: { ...env, CI: 'true' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (migrate.status !== 0) console.warn('D1 migrations did not apply (see above); data steps may fail.');

if (apiKey) {
  console.log(`\nAPI_KEY=${apiKey}\nTry:\n  curl -s -X POST http://127.0.0.1:${port}/ensembles/hello \\\n    -H "Authorization: Bearer ${apiKey}" -H 'content-type: application/json' \\\n    -d '{"name":"Ada","shout":true}'\n`);
}

await startDevReceiver(receiverPort);
console.log(`The examples' endpoints and webhooks answer on ${receiver} (each call is printed as [receiver]).`);
// wrangler runs the [build] step once more when its file watcher is ready and says a file changed.
console.log("(wrangler rebuilds once when its file watcher is ready: its line 'The file src,ensembles,scripts changed' is that, not an edit.)");

// Every argument goes to wrangler dev as given; ours only where the caller gave none.
const ipGiven = args.some((a) => a === '--ip' || a.startsWith('--ip='));
const dev = spawn(process.execPath, [...wrangler, 'dev', ...(ipGiven ? [] : ['--ip', '127.0.0.1']), ...extraArgs, ...args], { env, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => dev.kill(sig));
dev.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

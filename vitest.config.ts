import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { startReceiver } from './test/support/receiver.ts';

/**
 * wrangler.toml for the Worker tests, in a folder of its own: wrangler reads `.dev.vars` next to
 * the config it is given, and a developer's own secrets must never change what the tests see.
 * Paths point back at the project; the [build] step is the test run's own (`npm test` runs gen).
 */
function testWranglerConfig(): string {
  const dir = resolve('.wrangler/vitest');
  mkdirSync(dir, { recursive: true });
  const toml = readFileSync('wrangler.toml', 'utf8')
    .replace(/^\[build\][\s\S]*?(?=^\[)/m, '')
    .replace(/^main = "([^"]+)"/m, (_m, main: string) => `main = ${JSON.stringify(resolve(main))}`)
    .replace(/^migrations_dir = "([^"]+)"/m, (_m, d: string) => `migrations_dir = ${JSON.stringify(resolve(d))}`);
  const path = resolve(dir, 'wrangler.toml');
  writeFileSync(path, toml);
  return path;
}

// The local stand-in for Slack, MailChannels, webhooks and HTTP endpoints, on 127.0.0.1. It is
// started here (in Node) so its URL can be a binding of the Worker and its Durable Objects.
const receiver = await startReceiver();
receiver.server.unref();
const migrations = await readD1Migrations('./migrations');

// Two projects, one `npm test`: Worker tests run inside workerd (real Durable Objects, SQLite,
// alarms, D1, KV); tests that spawn processes (wrangler dev, receivers, a browser) run in Node.
/**
 * The Worker's own structured log lines (one per run, decision, notification) are what the tests
 * exercise, not what a reader of their output needs: they are not printed. Anything else a test
 * or the code logs still is, for a test that fails.
 */
const productLogLine = (log: string) => (/^\{"level":"(info|warn|error)","event":/.test(log.trim()) ? false : undefined);

export default defineConfig({
  test: {
    // What the tests log shows only when a test fails; the rest is one line per file and a summary.
    reporters: [['default', { summary: false }]],
    silent: 'passed-only',
    onConsoleLog: process.env.SHOW_LOGS ? undefined : productLogLine,
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: testWranglerConfig() },
            miniflare: {
              bindings: {
                API_KEY: 'test-api-key',
                ADMIN_EMAIL: 'admin@example.com',
                RECEIVER: receiver.url,
                HITL_WEBHOOK_SECRET: 'whsec-test',
                HITL_NOTIFY_BACKOFF_MS: '40',
                PUBLIC_BASE_URL: 'https://approvals.example.test',
                MAILCHANNELS_API_KEY: 'mc-test-key',
                MAILCHANNELS_API_URL: `${receiver.url}/mailchannels/send`,
                EMAIL_FROM: 'Approvals <hitl@example.com>',
                OPENAI_API_KEY: 'sk-local-test',
                OPENAI_BASE_URL: `${receiver.url}/openai/v1`,
                ANTHROPIC_API_KEY: 'ak-local-test',
                ANTHROPIC_BASE_URL: `${receiver.url}/anthropic`,
                // The spec's ensembles call public URLs; in tests they go to the receiver.
                CMS_PUBLISH_URL: `${receiver.url}/cms/publish`,
                PAYMENT_API_URL: `${receiver.url}/payments/process`,
                GITHUB_API_URL: `${receiver.url}/github`,
                SLACK_WEBHOOK_URL: `${receiver.url}/slack`,
                // Slack app mode (steps that name notificationConfig.channel) and Cloudflare Access,
                // both against local stand-ins.
                SLACK_BOT_TOKEN: 'xoxb-test-token',
                SLACK_SIGNING_SECRET: 'slack-signing-test',
                SLACK_API_URL: `${receiver.url}/slack-api`,
                ACCESS_TEAM_DOMAIN: 'team.example.test',
                ACCESS_AUD: 'aud-test',
                ACCESS_CERTS_URL: `${receiver.url}/access/certs`,
                APPROVAL_WEBHOOK_URL: `${receiver.url}/approval-webhook`,
                CONTENT_TEAM: 'content-team@example.com',
                ESCALATION_EMAIL: 'escalations@example.com',
                // Run data redacts every env string that is not configuration (src/secrets.ts); the
                // local stand-ins' URLs are configuration here.
                HITL_PUBLIC_VARS: 'RECEIVER,CMS_PUBLISH_URL,PAYMENT_API_URL,GITHUB_API_URL,ADMIN_EMAIL,APPROVAL_WEBHOOK_URL,CONTENT_TEAM,ESCALATION_EMAIL',
                // Local development: the console channel prints links (npm start sets the same).
                HITL_DEV: 'true',
                // A secret of the kind an ensemble may use in a header, and that must never show.
                PARTNER_TOKEN: 'partner-token-4f1c9e2b7a',
                // A secret that is a whole URL, its credential in the path (an incoming webhook).
                PARTNER_HOOK: `${receiver.url}/hooks/T0SECRET-9d1e4c`,
                TEST_MIGRATIONS: migrations as never,
              },
            },
          }),
        ],
        test: { name: 'worker', include: ['test/worker/**/*.test.ts'], setupFiles: ['test/worker/apply-migrations.ts'] },
      },
      {
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

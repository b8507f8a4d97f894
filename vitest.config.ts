import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { startReceiver } from './test/support/receiver.ts';

// The local stand-in for Slack, MailChannels, webhooks and HTTP endpoints, on 127.0.0.1. It is
// started here (in Node) so its URL can be a binding of the Worker and its Durable Objects.
const receiver = await startReceiver();
receiver.server.unref();
const migrations = await readD1Migrations('./migrations');

// Two projects, one `npm test`: Worker tests run inside workerd (real Durable Objects, SQLite,
// alarms, D1, KV); tests that spawn processes (wrangler dev, receivers, a browser) run in Node.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
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

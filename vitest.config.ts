import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { startReceiver } from './test/support/receiver.ts';

// The local stand-in for Slack, MailChannels, webhooks and HTTP endpoints, on 127.0.0.1. It is
// started here (in Node) so its URL can be a binding of the Worker and its Durable Objects.
const receiver = await startReceiver();
receiver.server.unref();

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
              },
            },
          }),
        ],
        test: { name: 'worker', include: ['test/worker/**/*.test.ts'] },
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

import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

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
              bindings: { API_KEY: 'test-api-key', ADMIN_EMAIL: 'admin@example.com' },
            },
          }),
        ],
        test: { name: 'worker', include: ['test/worker/**/*.test.ts'], globalSetup: ['test/support/global-setup.ts'] },
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

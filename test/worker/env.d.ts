import type { Env as WorkerEnv } from '../../src/env';

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      RECEIVER: string;
      TEST_MIGRATIONS: import('cloudflare:test').D1Migration[];
    }
  }
}

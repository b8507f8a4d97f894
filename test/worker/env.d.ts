declare global {
  namespace Cloudflare {
    // The test bindings (vitest.config.ts), on top of the Worker's own Env.
    interface Env {
      RECEIVER: string;
      TEST_MIGRATIONS: import('cloudflare:test').D1Migration[];
    }
  }
}

export {};

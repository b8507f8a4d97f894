import type { Env } from '../../src/env';

declare global {
  namespace Cloudflare {
    interface Env extends import('../../src/env').Env {
      RECEIVER: string;
    }
  }
}

export type { Env };

import type { Env } from '../../src/env';

declare global {
  namespace Cloudflare {
    interface Env extends import('../../src/env').Env {}
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    receiverUrl: string;
  }
}

export type { Env };

import { env } from 'cloudflare:test';
import { createApp } from '../../src/http/app';
import { EnsembleRegistry } from '../../src/ensemble/registry';
import type { ScriptRegistry } from '../../src/runtime/context';
import { publicEnvNames } from '../../src/runtime/env-secrets';
import { stepKinds } from '../../src/kinds';

export const API_KEY = 'test-api-key';
export const auth = { authorization: `Bearer ${API_KEY}` };
export const receiverUrl = () => env.RECEIVER;

/** What the local receiver got at paths starting with `path`, oldest first. */
export async function received(path: string): Promise<any[]> {
  return (await (await fetch(`${env.RECEIVER}/_received?path=${encodeURIComponent(path)}`)).json()) as any[];
}

/** An app over ensembles given inline, with the test env plus RECEIVER (the local HTTP receiver). */
export function appWith(files: Record<string, string>, scripts: ScriptRegistry = {}, library: Record<string, string> = {}) {
  const registry = new EnsembleRegistry(
    Object.entries(files).map(([name, source]) => ({ file: `ensembles/${name}.yaml`, source, hash: `h-${name}-${source.length}` })),
    scripts, stepKinds,
    publicEnvNames(env),
    // The library: agents/ and prompts/ files by path (`agents/review/agent.yaml`).
    Object.entries(library).map(([file, source]) => ({ file, source, hash: `h-${file}-${source.length}` })),
  );
  const app = createApp(() => registry);
  const testEnv = env;
  return {
    registry,
    request: (path: string, init: RequestInit = {}) => app.fetch(new Request(`http://worker.test${path}`, init), testEnv),
    run: async (name: string, input: unknown = {}) => {
      const res = await app.fetch(new Request(`http://worker.test/ensembles/${name}`, {
        method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(input),
      }), testEnv);
      return { status: res.status, body: (await res.json()) as any };
    },
  };
}

/** The test database with its writes (`batch`) replaced, e.g. failing or held; reads go through. */
export function dbWithWrites(batch: (real: D1Database, statements: D1PreparedStatement[]) => Promise<unknown>): D1Database {
  return new Proxy(env.DB!, {
    get(target, key) {
      if (key === 'batch') return (statements: D1PreparedStatement[]) => batch(target, statements);
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/env';
import { seal, unseal } from '../../src/hitl/seal';

// Sealed links are what reminders and escalations re-send. Keys are derived once per isolate and
// kept: what is sealed must still open only for its own execution and its own secret.
const withSecret = (secret: string) => ({ HITL_TOKEN_SECRET: secret }) as unknown as Env;
const links = { personal: [{ approver: 'a@example.com', token: 'exe_1.secret' }] };

describe('sealed links', () => {
  it('open for the execution they were sealed for, and for no other', async () => {
    const env = withSecret('one secret');
    const sealed = await seal(env, 'exe_a', links);
    expect(await unseal(env, 'exe_a', sealed)).toEqual(links);
    // Twice, and after seal: every call after the first takes the kept key.
    expect(await unseal(env, 'exe_a', sealed)).toEqual(links);
    await expect(unseal(env, 'exe_b', sealed)).rejects.toThrow();
  });

  it('a rotated secret opens nothing sealed under the old one, and the old secret opens nothing new', async () => {
    const before = withSecret('before rotation');
    const after = withSecret('after rotation');
    const old = await seal(before, 'exe_r', links);
    await expect(unseal(after, 'exe_r', old)).rejects.toThrow();
    const fresh = await seal(after, 'exe_r', links);
    expect(await unseal(after, 'exe_r', fresh)).toEqual(links);
    await expect(unseal(before, 'exe_r', fresh)).rejects.toThrow();
    expect(await unseal(before, 'exe_r', old)).toEqual(links);
  });

  it('API_KEY seals when HITL_TOKEN_SECRET is not set, and neither set is a clear error', async () => {
    const env = { API_KEY: 'the api key' } as unknown as Env;
    expect(await unseal(env, 'exe_k', await seal(env, 'exe_k', links))).toEqual(links);
    await expect(seal({} as Env, 'exe_k', links)).rejects.toThrow('HITL_TOKEN_SECRET or API_KEY must be set');
  });

  it('more executions than the isolate keeps keys for: every one still opens (the evicted ones derived again), and only its own', async () => {
    const env = withSecret('many');
    const ids = Array.from({ length: 300 }, (_, i) => `exe_${i}`);
    const sealed = await Promise.all(ids.map((id) => seal(env, id, { ...links, id })));
    for (const [i, id] of ids.entries()) expect(await unseal(env, id, sealed[i]!)).toEqual({ ...links, id });
    await expect(unseal(env, ids[0]!, sealed[299]!)).rejects.toThrow();
  });
});

import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { basePath, linksFor } from '../../src/notify/notice';

const fetchWith = (path: string, vars: Record<string, string>) =>
  worker.fetch(new Request(`http://w${path}`, { headers: { accept: 'application/json' } }) as never, { ...env, ...vars }, createExecutionContext());

describe('HITL_BASE_PATH', () => {
  const token = `exe_${'1'.repeat(32)}.${'b'.repeat(32)}`;

  it('serves callback links under the configured prefix, and only there', async () => {
    const custom = await fetchWith(`/approvals/v1/${token}`, { HITL_BASE_PATH: '/approvals/v1/' });
    expect(custom.status).toBe(404);
    expect(((await custom.json()) as any).error).toMatchObject({ code: 'NOT_FOUND', message: 'unknown or invalid link' });
    const old = await fetchWith(`/callback/${token}`, { HITL_BASE_PATH: '/approvals/v1' });
    expect(((await old.json()) as any).error.message).toMatch(/^no route for GET/);
    const standard = await fetchWith(`/callback/${token}`, {});
    expect(((await standard.json()) as any).error.message).toBe('unknown or invalid link');
  });

  it('builds links with the normalised prefix', () => {
    expect(basePath(undefined)).toBe('/callback');
    expect(basePath('approvals/v1/')).toBe('/approvals/v1');
    expect(linksFor('https://x.example', basePath('/a'), 't', 'me')).toEqual({
      approver: 'me', callbackUrl: 'https://x.example/a/t', approveUrl: 'https://x.example/a/t?action=approve', rejectUrl: 'https://x.example/a/t?action=reject',
    });
  });
});

describe('link answers', () => {
  it('a malformed link and an unknown well-formed one get the same 404', async () => {
    const malformed = await fetchWith('/callback/not-a-token', {});
    const unknown = await fetchWith(`/callback/exe_${'2'.repeat(32)}.${'c'.repeat(32)}`, {});
    expect(malformed.status).toBe(404);
    expect(await malformed.json()).toEqual(await unknown.json());
  });
});

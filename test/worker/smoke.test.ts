import { SELF } from 'cloudflare:test';
import { expect, it } from 'vitest';

it('runs hello', async () => {
  const res = await SELF.fetch('http://x/ensembles/hello', { method: 'POST', headers: { authorization: 'Bearer test-api-key' }, body: JSON.stringify({ name: 'Ada', shout: true }) });
  const body = await res.json();
  console.log(JSON.stringify(body));
  expect(res.status).toBe(200);
});

/** `exe_` and 128 random bits in hex: no `.`, so a callback token can be `<executionId>.<secret>`. */
export const EXECUTION_ID = /^exe_[0-9a-f]{32}$/;
export const EXECUTION_ID_SOURCE = EXECUTION_ID.source.slice(1, -1);

export function newExecutionId(): string {
  const buf = crypto.getRandomValues(new Uint8Array(16));
  return `exe_${[...buf].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * The execution id a start with an `Idempotency-Key` gets: derived from the ensemble and the key,
 * so every retry reaches the same execution (and its object, which remembers how the start went).
 */
export async function idempotentExecutionId(ensemble: string, key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`idempotency\n${ensemble}\n${key}`)));
  return `exe_${[...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

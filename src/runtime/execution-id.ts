/** `exe_` and 128 random bits in hex: no `.`, so a callback token can be `<executionId>.<secret>`. */
export const EXECUTION_ID = /^exe_[0-9a-f]{32}$/;
export const EXECUTION_ID_SOURCE = EXECUTION_ID.source.slice(1, -1);

export function newExecutionId(): string {
  const buf = crypto.getRandomValues(new Uint8Array(16));
  return `exe_${[...buf].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}


/** A new execution id: `exe_` and 128 random bits in hex (no `.`, so tokens can be `<id>.<secret>`). */
export function newExecutionId(): string {
  const buf = crypto.getRandomValues(new Uint8Array(16));
  return `exe_${[...buf].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

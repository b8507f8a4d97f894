const encoder = new TextEncoder();

/** SHA-256 as lowercase hex. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Compares two strings in time independent of where they differ (hashes first, so lengths leak nothing). */
export async function timingSafeEqualText(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([sha256Hex(a), sha256Hex(b)]);
  let diff = 0;
  for (let i = 0; i < ha.length; i++) diff |= ha.charCodeAt(i) ^ hb.charCodeAt(i);
  return diff === 0;
}

/** `bytes` random bytes as base64url (no padding): URL-safe, 8 bits of entropy per byte. */
export function randomToken(bytes = 24): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...buf)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** A new execution id: `exe_` and 128 random bits in hex (no `.`, so tokens can be `<id>.<secret>`). */
export function newExecutionId(): string {
  const buf = crypto.getRandomValues(new Uint8Array(16));
  return `exe_${[...buf].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

// Identities are compared in one canonical spelling, so separation of duties and "one decision per
// person" cannot be dodged by case, width, invisible characters or a display name.

/**
 * Characters that render as nothing, break lines or reorder text: control characters (newlines
 * included: a name is one line), line and paragraph separators, soft hyphen, combining grapheme joiner,
 * Arabic letter mark, Hangul fillers, Mongolian and Khmer invisibles, zero-width space/joiners,
 * LRM/RLM, bidi embeddings and isolates, word joiner and invisible operators, variation selectors,
 * the byte-order mark, interlinear annotation marks, musical formatting characters and tags.
 */
const INVISIBLE = /[\p{Cc}\u2028\u2029\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF9-\uFFFB]|[\u{1D173}-\u{1D17A}\u{E0000}-\u{E007F}]/gu;

/**
 * The canonical form of an identity: Unicode NFKC, invisible and bidi control characters removed,
 * `Name <addr>` reduced to `addr`, a `mailto:` prefix dropped, trimmed, case-folded.
 *
 * @example normalizeIdentity('  "Alice" <ALICE@Example.com\u200b> ') // 'alice@example.com'
 * @example normalizeIdentity('ｍａｌｌｏｒｙ@example.com')               // 'mallory@example.com'
 */
export function normalizeIdentity(value: string): string {
  let s = value.normalize('NFKC').replace(INVISIBLE, '');
  const angle = /<([^<>]*)>\s*$/.exec(s);
  if (angle && angle[1]!.trim()) s = angle[1]!;
  s = s.trim().replace(/^mailto:/i, '');
  // Lower-casing can leave a string that is not NFKC again (e.g. U+0130), hence the second pass.
  return s.toLowerCase().normalize('NFKC').trim();
}

/** An identity as shown and recorded: NFKC, without invisible or bidi characters, trimmed (case kept). */
export function displayIdentity(value: string): string {
  return value.normalize('NFKC').replace(INVISIBLE, '').trim();
}

/** True when two spellings name the same identity (and neither is empty). */
export function sameIdentity(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  const x = normalizeIdentity(a);
  return x !== '' && x === normalizeIdentity(b);
}

/** The first of `listed` that any of `candidates` names, if one does. */
export function findListed(listed: readonly string[], candidates: readonly string[]): string | undefined {
  const wanted = new Set(candidates.map(normalizeIdentity).filter(Boolean));
  return listed.find((l) => wanted.has(normalizeIdentity(l)));
}

/** The Slack member id a `slack:U…` name holds (upper-cased, as Slack writes ids), if it is one. */
export function slackUserId(name: string): string | undefined {
  const m = /^\s*slack:\s*([A-Za-z0-9]{2,32})\s*$/i.exec(name);
  return m ? m[1]!.toUpperCase() : undefined;
}

/** True when a name is an email address (what Access and Slack profiles know people by). */
export const isEmailName = (name: string) => /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(normalizeIdentity(name));

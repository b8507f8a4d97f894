// What reaches the operator's terminal: text from the server (prompts, names, error bodies of
// webhooks) could carry escape sequences that retitle, clear or rewrite the terminal. Everything
// printed goes through `terminalSafe`; `--json` output is JSON, where they are escaped already.

// ESC sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC (ESC P|X|^|_ ... ST),
// and two-character ones (ESC + one char). C1 controls (0x80-0x9f) include 8-bit CSI and OSC.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[\s\S]?/g;
const C1_SEQUENCES = /\x9b[0-?]*[ -/]*[@-~]?|[\x9d\x90\x98\x9e\x9f][^\x07\x9c\x1b]*[\x07\x9c]?/g;
// Every other control character but line feed and tab; DEL; and bidi overrides that reorder what is shown.
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every terminal control sequence and control character removed (line feeds and tabs kept). */
export function terminalSafe(text) {
  return String(text).replace(/\r\n?/g, '\n').replace(ESCAPES, '').replace(C1_SEQUENCES, '').replace(CONTROLS, '');
}

/**
 * JSON text for a terminal or a pipe: still exactly the value (it parses back the same), with the
 * characters JSON.stringify leaves as they are but a terminal acts on (C1 controls such as CSI
 * and OSC, bidi overrides) written as \u escapes. They can only stand inside JSON strings.
 */
export function terminalJson(text) {
  return String(text).replace(/[\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

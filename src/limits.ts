/**
 * Every size and budget in one place, with the reason for each number. Durable Object SQLite
 * holds at most 2 MB in one string, BLOB or row, and a Worker isolate has 128 MB of memory: the
 * limits below keep every write and every value an ensemble builds well inside both, by
 * construction, so a storage or memory error never reaches a run.
 */
export const LIMITS = {
  /** Run input (the body of `POST /ensembles/:name`): stored with the run, so a fraction of the state. */
  runInputBytes: 256 * 1024,
  /** One step's output (JSON): several steps must fit in one state. Beyond: `OUTPUT_TOO_LARGE`. */
  stepOutputBytes: 256 * 1024,
  /** A step's rendered input (JSON), stored in its record like the output. Beyond: `INPUT_TOO_LARGE`. */
  stepInputBytes: 256 * 1024,
  /** The whole run state (input + every step record), a quarter below SQLite's 2 MB value limit. */
  stateBytes: 1536 * 1024,
  /** `POST /callback/:token`: a decision with feedback and form values. */
  decisionBodyBytes: 64 * 1024,
  /** `POST /slack/interactions`: Slack sends the whole message back with every click. */
  slackBodyBytes: 1024 * 1024,
  /** Nesting of any JSON request body; deeper documents are rejected before anything walks them. */
  jsonDepth: 64,
  /** One ensemble file: a definition is stored with every suspended run that uses it. */
  ensembleFileBytes: 256 * 1024,
  /**
   * Files of agents/ and prompts/ read: each is checked when the Worker first loads an ensemble,
   * and the ones a run uses are stored with it (within ensembleFileBytes each).
   */
  libraryFiles: 1000,
  /**
   * An ensemble's source and the library files it uses, together: stored in one row with each of
   * its suspended runs (a Durable Object's SQLite value holds at most 2 MB).
   */
  definitionBytes: 1024 * 1024,
  /** Scheduled runs started at once by one scheduled event (each holds requests open while its steps run). */
  cronConcurrency: 6,
  /** An email that starts a run: its raw size, and the text kept (the input is stored with the run). */
  emailBytes: 1024 * 1024,
  emailTextChars: 30_000,
  /** The longest delay between two attempts of a step: a run's steps share one request or alarm. */
  retryDelayMs: 60_000,
  /** The longest `timeout` of an operation step (per attempt). */
  stepTimeoutMs: 15 * 60_000,
  /** Library files one ensemble may use: they are stored with each of its suspended runs. */
  libraryFilesPerEnsemble: 64,
  /** YAML aliases per file (the parser's own default), against alias bombs. */
  yamlAliases: 100,
  /** Nesting of YAML values in a file. */
  yamlDepth: 64,
  /** One `${...}` expression's source. */
  expressionChars: 4096,
  /** Nesting of one expression's syntax tree (a chain of `a + b + ...` counts each term). */
  expressionDepth: 128,
  /** The longest string any expression may build (characters): a few MB at most in memory. */
  expressionStringChars: 1_000_000,
  /** The most items any array an expression builds may hold. */
  expressionArrayItems: 100_000,
  /**
   * All that the expressions of one template build together, as JSON characters with every shared
   * part counted as often as it would be written: one step's input (all its keys, siblings reading
   * siblings included), its config, its condition, or the run's output. The same million as one
   * value: a step's input is stored within 256 KiB anyway, so this bounds the memory and time of
   * building it, whatever way the values are composed (src/expression/budget.ts).
   */
  renderedChars: 1_000_000,
  /**
   * All that one template's expressions may build while it renders, kept or dropped (the text
   * behind a `.length`, each step of a chain): bounds its time as `renderedChars` bounds its
   * result. Four values of the largest size.
   */
  renderedWorkChars: 4_000_000,
  /** Approvers (and escalateTo) of one hitl step: each gets a link, all kept sealed in one value. */
  approvers: 500,
  /** All decisions of one approval request (names, feedback, reasons), as stored and as the step's output. */
  decisionsBytes: 192 * 1024,
  /** Nesting of any value a step produces or an expression parses. */
  valueDepth: 64,
  /** Times the watchdog re-runs the same step after the isolate died mid-step; then `RESUME_EXHAUSTED`. */
  resumeAttempts: 3,
  /**
   * Sign-in to the console (`POST /admin/login`): wrong keys from one client (IP) within the
   * window before that client is locked out, and from everyone before everyone is. An API key
   * has at least 128 bits, but nothing should be guessable at the speed of a loop; the bearer
   * header (scripts, the CLI) is not throttled by this, so a lockout never shuts operators out.
   */
  loginWindowMs: 15 * 60_000,
  loginFailuresPerClient: 5,
  loginLockoutMs: 15 * 60_000,
  loginFailuresAll: 50,
  loginLockoutAllMs: 5 * 60_000,
  /**
   * `Idempotency-Key` on `POST /ensembles/:name`: how long a finished start is remembered (its
   * answer replayed), and how long a start under way holds its key without news (renewed after
   * every step; longer than any one step may take, so only a Worker that died lets it lapse).
   */
  idempotencyKeyMs: 24 * 3_600_000,
  startLeaseMs: 15 * 60_000,
  idempotencyKeyChars: 255,
  /** Console sessions kept at once (the oldest give way). */
  adminSessions: 1000,
  /**
   * Control flow (`parallel`, `foreach`, ...). Nesting of control nodes: the interpreter recurses
   * once per level. Items of one foreach or map: each keeps a record in the run's state, which
   * must stay within `stateBytes`. Step executions per run: every one is a record and a checkpoint.
   * Open approval requests per run: each has its own links, notifications and alarm work.
   * Concurrency of one foreach or map: as many items as approvals may be open at once (an item
   * waiting for people holds its slot); steps running at once share the run's isolate, and its
   * fetches beyond six at a time wait for a connection. Iterations of a
   * while: the default when a loop names none, and the most it may name.
   */
  nestingDepth: 16,
  /** Problems listed for one ensemble file (the rest are counted). */
  loadProblems: 200,
  /** Steps and control nodes in one ensemble's tree (conductor's definitions used inside each other multiply). */
  treeNodes: 5000,
  foreachItems: 1000,
  /** Records one run may make: every step that runs and every control node (each iteration's counted), `STEP_LIMIT`. */
  stepExecutions: 10_000,
  openRequests: 100,
  maxConcurrency: 100,
  whileIterations: 100,
  whileIterationsMax: 1000,
  /** Refused decision attempts audited per request and channel. */
  refusalsAudited: 50,
  /**
   * `operation: storage`. A value put to KV or R2, as stored (its text, or its JSON): a run's
   * values are at most `renderedChars` anyway, and a step stores a value, not a file (KV holds
   * 25 MiB, R2 5 GB). A value got is a step's output, so at most `stepOutputBytes`: a larger one
   * is refused before it is read. Beyond either: `VALUE_TOO_LARGE`.
   */
  storageValueBytes: 1024 * 1024,
  /** A KV key: Cloudflare's own limit (a longer one fails at KV). Beyond: `KEY_TOO_LARGE`. */
  kvKeyBytes: 512,
  /** An R2 key: R2's own limit. */
  r2KeyBytes: 1024,
  /**
   * Events (`POST /events/:name`, webhooks that emit, `agent: wait`). An event's data becomes the
   * output of the wait that takes it, so it is bounded like a step's output (with room for the
   * rest). A key names one event box (one Durable Object). Events kept for later waits, per
   * (name, key): beyond, `EVENTS_FULL` (429) until waits take them or they expire. How long they
   * may be kept (`EVENT_LOOKBACK`) at most.
   */
  eventDataBytes: 192 * 1024,
  eventKeyChars: 256,
  eventsKept: 1000,
  eventLookbackMaxMs: 30 * 86_400_000,
  /** One queue message as JSON: Cloudflare Queues take at most 128 KB. Beyond: `VALUE_TOO_LARGE`. */
  queueMessageBytes: 128 * 1024,
  /** The longest a queue message may be delayed: Queues' own maximum (12 hours). */
  queueDelaySeconds: 43_200,
  /**
   * `operation: transform`: items of the list it works on (after `merge`), each copied once per
   * modifier; columns of the CSV it writes and keys named by `pick`/`omit`. Beyond: `TOO_MANY_ITEMS`.
   */
  transformItems: 10_000,
  transformColumns: 1000,
  /**
   * `operation: html`: a template's source (Liquid or Markdown, in characters): it is parsed when
   * the ensemble loads and again when the step runs. Beyond: `TEMPLATE_TOO_LARGE`.
   */
  htmlTemplateChars: 64 * 1024,
  /**
   * Tags, outputs and text a render may evaluate (every iteration of a loop counts): a loop over a
   * loop stops here in milliseconds instead of spending the Worker's CPU, whose clock does not move
   * while it computes (so a time limit would never fire). Beyond: `TEMPLATE_LIMIT`, as when what a
   * render writes and allocates (captures and filters included) passes `renderedWorkChars`.
   */
  htmlRenders: 100_000,
} as const;

/** Bytes of a value as stored (its JSON in UTF-8). */
export function jsonBytes(value: unknown): number {
  return utf8Length(JSON.stringify(value) ?? 'null');
}

const NON_ASCII = /[^\x00-\x7f]/;

/** UTF-8 length of a string, counted without encoding it (this runs on every step's record). */
export function utf8Length(s: string): number {
  // Most JSON is ASCII, where the length is the answer: one native scan instead of a JS loop.
  if (!NON_ASCII.test(s)) return s.length;
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { bytes += 2; i++; }
    else bytes += 2;
  }
  return bytes;
}

/** The depth of nested arrays and objects in a value, counted without recursion (so it cannot overflow). */
export function depthOf(value: unknown, stopAt = Infinity): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    if (max > stopAt) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth]);
  }
  return max;
}

import type { z } from 'zod';
import { compileTemplate, templateRoots, type Path, type TemplateProblem } from '../expression/template';
import { plainIssue, valueAt } from '../ensemble/issue-words';
import { didYouMean, suggest } from '../ensemble/suggest';
import { isInfraSecret } from '../secrets';
import { CronTrigger, cronProblem, EmailTrigger, QueueTrigger, scheduleOf, secretName, Trigger, triggerTypes, UNSUPPORTED_TRIGGERS, WebhookTrigger } from './schema';

// An ensemble's `trigger:` list as the loader checks it (src/ensemble/loader.ts calls this).

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The `trigger:` list: each entry checked (schema, cron expression, time zone, auth), every problem at once. */
export function compileTriggers(list: unknown, report: (at: Path, message: string, key?: boolean) => void, publicEnv: ReadonlySet<string> | undefined, inputSchema: z.ZodType): Trigger[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    report([], '`trigger:` is a list of triggers (`- type: cron`, `- type: webhook`, ...)');
    return [];
  }
  if (list.length > 20) {
    report([20], 'an ensemble has at most 20 triggers');
    return [];
  }
  const out: Trigger[] = [];
  const at: number[] = [];
  list.forEach((entry, i) => {
    if (isPlainObject(entry) && typeof entry.type === 'string' && Object.hasOwn(UNSUPPORTED_TRIGGERS, entry.type)) {
      report([i, 'type'], `a '${entry.type}' trigger is a conductor feature this runtime does not have: ${UNSUPPORTED_TRIGGERS[entry.type]}`);
      return;
    }
    const parsed = Trigger.safeParse(entry);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          const type = isPlainObject(entry) ? String(entry.type) : '';
          const shape = ({ cron: CronTrigger, webhook: WebhookTrigger, queue: QueueTrigger, email: EmailTrigger } as Record<string, { shape: object }>)[type]?.shape ?? {};
          for (const k of issue.keys) report([i, k], `unknown key '${k}' for a ${type} trigger${didYouMean(k, Object.keys(shape))}`, true);
        } else if ((issue.code === 'invalid_union' && issue.path.length === 0) || (issue.path.length === 1 && issue.path[0] === 'type')) {
          const written = isPlainObject(entry) ? entry.type : undefined;
          const close = typeof written === 'string' ? suggest(written, [...triggerTypes]) : undefined;
          report([i, 'type'], `unknown trigger type '${String(written)}'${close ? ` — did you mean '${close}'?` : ` (expected one of: ${triggerTypes.join(', ')})`}`);
        } else report([i, ...(issue.path as Path)], plainIssue(issue, valueAt(entry, issue.path)));
      }
      return;
    }
    const t = parsed.data;
    if (t.type === 'cron') {
      const problem = cronProblem(t.cron, t.timezone);
      if (problem) {
        report([i, problem.field], problem.message);
        return;
      }
    }
    if (t.type === 'cron' && scheduleOf(t.cron, t.timezone).nextRun() === null) {
      report([i, 'cron'], `'${t.cron}' never fires (no such date): check the day and month fields`);
      return;
    }
    if (t.type === 'cron' && t.input !== undefined) {
      const fits = inputSchema.safeParse(t.input);
      if (!fits.success) {
        report([i, 'input'], `this input does not fit the ensemble's inputs: ${fits.error.issues.map((x) => `${x.path.join('.') || 'input'}: ${x.message}`).join('; ')}`);
        return;
      }
    }
    if (t.type === 'webhook' && t.auth && t.auth.type !== 'bearer') {
      // A signing secret is one: not configuration anyone can read, not one of this Worker's own.
      const name = secretName(t.auth.secret);
      const slackOwn = name === 'SLACK_SIGNING_SECRET' && t.auth.type === 'slack';
      if ((isInfraSecret(name) && !slackOwn) || publicEnv?.has(name)) {
        report([i, 'auth', 'secret'], publicEnv?.has(name)
          ? `${name} is configuration anyone may read (wrangler.toml [vars] or HITL_PUBLIC_VARS): a signing secret must be a secret of its own`
          : `${name} is a credential of this Worker, not a webhook's signing secret: give the sender a secret of its own`);
        return;
      }
    }
    if (t.type === 'webhook' && (t.auth === undefined) === (t.public === undefined)) {
      report([i], t.auth ? '`auth` and `public: true` exclude each other: keep one' : 'a webhook says who may call it: `auth: { type: github | stripe | slack | hmac-sha256, secret: "$env.NAME" }`, `auth: { type: bearer }`, or `public: true`');
      return;
    }
    if (t.type === 'webhook' && t.emit) {
      // An event resumes waits, an approval's race among them: who may send one is proven, never open.
      if (t.public) {
        report([i, 'public'], 'a webhook that emits an event resumes waits (and wins their races): it cannot be public; sign it (`auth: { type: github | stripe | slack | hmac-sha256, secret: "$env.NAME" }`) or use `auth: { type: bearer }`');
        return;
      }
      const problem = emitKeyProblem(t.emit.key);
      if (problem) {
        report([i, 'emit', 'key'], problem);
        return;
      }
      if (t.respond === 'sync') {
        report([i, 'respond'], 'a webhook that emits an event starts no run, so it has no run\'s answer to give: drop `respond: sync`');
        return;
      }
    }
    out.push(t);
    at.push(i);
  });
  // Two triggers of one file on the same path or the same queue would start two runs per delivery.
  const seen = new Map<string, number>();
  out.forEach((t, n) => {
    const key = t.type === 'webhook' ? `path ${t.path}` : t.type === 'queue' ? `queue ${t.queue}` : undefined;
    if (!key) return;
    if (seen.has(key)) report([at[n]!], `this ${key} is also a trigger above: keep one`);
    seen.set(key, 1);
  });
  return out;
}


/** Why an `emit.key` cannot be rendered from a webhook's body: syntax, or names other than `input`. */
function emitKeyProblem(key: string): string | undefined {
  const problems: TemplateProblem[] = [];
  const template = compileTemplate(key, [], problems);
  if (problems.length) return `emit.key: ${problems[0]!.message}`;
  if (template.kind === 'const') return 'emit.key is the same for every request: write an expression over the body, such as "${input.order.id}"';
  const other = [...templateRoots(template)].filter((r) => r !== 'input');
  if (other.length) return `emit.key reads only the request's body (\`input\`), not ${other.map((r) => `'${r}'`).join(', ')}`;
  return undefined;
}

import type { Env } from '../env';
import { compileTemplate, renderTemplate, type Template, type TemplateProblem } from '../expression/template';
import { publicEnv } from '../runtime/public-env';
import type { ApprovalRequest } from './request';

// Written credential fields, compiled once per isolate (a handful per deployment; bounded anyway).
const compiled = new Map<string, Template>();

function compileWritten(text: string): Template {
  let t = compiled.get(text);
  if (!t) {
    const problems: TemplateProblem[] = [];
    t = compileTemplate(text, [], problems);
    if (problems.length) throw new Error('a stored notification setting does not compile');
    if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!);
    compiled.set(text, t);
  }
  return t;
}

/**
 * The notification settings of a request, with the fields kept as written (because they use a
 * secret, `${env.HOOK}`) completed from env, for a channel about to send. The loader allowed those
 * fields to read env alone, so nothing but env is in scope here; the result is used, never stored.
 */
export function notificationSettings(spec: ApprovalRequest, env: Env): ApprovalRequest['notification'] {
  if (!spec.writtenCredentials?.length) return spec.notification;
  const scope = (name: string) => (name === 'env' ? publicEnv(env) : undefined);
  const out = { ...spec.notification };
  for (const field of spec.writtenCredentials) {
    const text = out[field];
    if (typeof text === 'string') out[field] = String(renderTemplate(compileWritten(text), scope) ?? '');
  }
  return out;
}

import type { Env } from '../env';
import { compileExpression, type CompiledExpression } from '../expression/compile';
import { stringify } from '../expression/template';
import { publicEnv } from '../runtime/public-env';
import type { ApprovalRequest } from './request';

// Expressions of written credential fields, compiled once per isolate (a handful per deployment).
const compiled = new Map<string, CompiledExpression>();

function compiledOf(source: string): CompiledExpression {
  let e = compiled.get(source);
  if (!e) {
    e = compileExpression(source);
    // The loader allowed env alone in such a field; a stored part that reads anything else is refused.
    if ([...e.roots].some((r) => r !== 'env') || e.envWhole) throw new Error('a stored notification setting reads more than env');
    if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!);
    compiled.set(source, e);
  }
  return e;
}

/**
 * The notification settings of a request, with the fields kept as written (because they use a
 * secret, `${env.HOOK}`) completed from env, for a channel about to send. Literal parts stay
 * literal; each expression part reads env alone. The result is used, never stored.
 */
export function notificationSettings(spec: ApprovalRequest, env: Env): ApprovalRequest['notification'] {
  const written = spec.writtenCredentials;
  if (!written?.webhookUrl) return spec.notification;
  const scope = (name: string) => (name === 'env' ? publicEnv(env) : undefined);
  const webhookUrl = written.webhookUrl.map((p) => (typeof p === 'string' ? p : stringify(compiledOf(p.expr).evaluate(scope)))).join('');
  return { ...spec.notification, webhookUrl };
}

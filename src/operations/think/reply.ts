import { z } from 'zod';
import { StepError } from '../../errors';

const FENCE = /^\s*```(?:json|JSON)?\s*\n([\s\S]*?)\n?```\s*$/;

/** The JSON object a reply holds, as the whole reply or in one ```json fence; undefined otherwise. */
export function replyObject(reply: string): Record<string, unknown> | unknown[] | undefined {
  const candidate = FENCE.exec(reply)?.[1] ?? reply;
  const trimmed = candidate.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The step output of a model reply. A JSON object reply is that object even without `output: json`
 * (so `${risk-check.output.risk_score}` works as the spec writes it); `output: json` requires one,
 * and `schema` (JSON Schema) validates it.
 */
export function interpretReply(reply: string, output: 'text' | 'json' | undefined, schema?: Record<string, unknown>): unknown {
  const object = output === 'text' ? undefined : replyObject(reply);
  if (object === undefined) {
    if (output === 'json' || schema) throw new StepError('MODEL_OUTPUT_INVALID', `the model's reply is not JSON: ${reply.slice(0, 200)}`);
    return reply;
  }
  if (schema) {
    const result = z.fromJSONSchema(schema as never).safeParse(object);
    if (!result.success) {
      throw new StepError('MODEL_OUTPUT_INVALID', `the model's reply does not match the schema: ${result.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}`, { details: { reply: object } });
    }
  }
  return object;
}

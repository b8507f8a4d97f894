import { z } from 'zod';
import type { InputDeclaration } from './schema';

const base = {
  string: () => z.string(),
  number: () => z.number(),
  integer: () => z.number().int(),
  boolean: () => z.boolean(),
  object: () => z.record(z.string(), z.unknown()),
  array: () => z.array(z.unknown()),
  any: () => z.unknown(),
} satisfies Record<InputDeclaration['type'], () => z.ZodType>;

/**
 * Builds the validator of a run input from the ensemble's `inputs:` declarations, once at load
 * time. Undeclared fields pass through (spec examples read fields they never declare).
 */
export function buildInputSchema(inputs: Record<string, InputDeclaration>): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, decl] of Object.entries(inputs)) {
    let schema: z.ZodType = base[decl.type]();
    if (decl.enum) {
      const allowed = decl.enum;
      schema = schema.refine((v) => allowed.some((a) => JSON.stringify(a) === JSON.stringify(v)), {
        message: `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
      });
    }
    if (decl.default !== undefined) schema = schema.optional().default(decl.default as never);
    else if (!decl.required) schema = schema.optional();
    shape[name] = schema;
  }
  return z.looseObject(shape) as unknown as z.ZodType<Record<string, unknown>>;
}

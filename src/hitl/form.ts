import { z } from 'zod';

/**
 * A `hitl` step's `form:`: fields an approver fills in beside the decision (a rating, a corrected
 * amount). Declared in the step, rendered on the review page, validated on POST, and delivered as
 * `output.response`. Field defaults may be expressions (rendered before the step suspends), so an
 * approver can correct a value before approving.
 */
const FieldShape = z.strictObject({
  type: z.enum(['string', 'number', 'integer', 'boolean']).default('string').meta({ description: 'The value type.', default: 'string' }),
  title: z.string().max(200).optional().meta({ description: 'The label on the page (default: the field name).' }),
  description: z.string().max(1000).optional().meta({ description: 'Help text under the field.' }),
  enum: z.array(z.union([z.string(), z.number()])).min(1).max(100).optional().meta({ description: 'The allowed values (a drop-down).', examples: [['low', 'medium', 'high']] }),
  required: z.boolean().optional().meta({ description: 'Must be filled in to approve (a rejection never needs it).', default: false }),
  minimum: z.number().optional(),
  maximum: z.number().optional(),
  maxLength: z.number().int().min(1).max(10_000).optional().meta({ description: 'Longest text accepted (default 10,000).' }),
  default: z.union([z.string(), z.number(), z.boolean()]).optional().meta({ description: 'The pre-filled value; may be an expression such as `${quote.output.amount}`.' }),
});

/** A field whose `enum` holds values of its own type (a checkbox has none). */
export const FormField = FieldShape.superRefine((f, ctx) => {
  if (!f.enum) return;
  const wanted = f.type === 'string' ? 'string' : f.type === 'boolean' ? undefined : 'number';
  if (!wanted || f.enum.some((e) => typeof e !== wanted)) {
    ctx.addIssue({ code: 'custom', path: ['enum'], message: wanted ? `the enum of a ${f.type} field holds ${wanted === 'string' ? 'text' : 'numbers'} only` : 'a boolean field takes no enum' });
  }
});
export type FormField = z.infer<typeof FormField>;

/** Field names are plain identifiers, so `${review.output.response.rating}` reads them. */
export const FormSpec = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'form field names are letters, digits and _')
    // `constructor`, `toString`, `__proto__`...: every object already answers to those names.
    .refine((name) => !(name in Object.prototype) && name !== 'prototype', { message: 'this name cannot name a form field: every object already has it (constructor, toString, __proto__, prototype...)' }),
  FormField,
)
  .refine((f) => Object.keys(f).length <= 20, 'a form has at most 20 fields');
export type FormSpec = z.infer<typeof FormSpec>;

const MAX_TEXT = 10_000;

/**
 * The form as JSON Schema, for custom UIs (like MCP elicitation's `requestedSchema`): a flat
 * object of primitive properties.
 */
export function formJsonSchema(form: FormSpec): Record<string, unknown> {
  const properties = Object.fromEntries(Object.entries(form).map(([name, f]) => [name, {
    type: f.type,
    ...(f.title ? { title: f.title } : {}),
    ...(f.description ? { description: f.description } : {}),
    ...(f.enum ? { enum: f.enum } : {}),
    ...(f.minimum !== undefined ? { minimum: f.minimum } : {}),
    ...(f.maximum !== undefined ? { maximum: f.maximum } : {}),
    ...(f.type === 'string' ? { maxLength: f.maxLength ?? MAX_TEXT } : {}),
    ...(f.default !== undefined ? { default: f.default } : {}),
  }]));
  const required = Object.entries(form).filter(([, f]) => f.required).map(([name]) => name);
  return { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: false };
}

export interface FormIssue {
  path: string;
  message: string;
}

/**
 * An approver's answers checked against the form. `fromHtml`: values are the strings a browser
 * sends (a checkbox is present or absent). Fields left out take their default; `approving`
 * enforces `required`. Unknown fields are refused, never stored.
 */
export function readResponse(form: FormSpec, raw: unknown, opts: { fromHtml: boolean; approving: boolean }): { ok: true; value: Record<string, unknown> } | { ok: false; issues: FormIssue[] } {
  const issues: FormIssue[] = [];
  const given = raw === undefined || raw === null ? {} : raw;
  if (typeof given !== 'object' || Array.isArray(given)) return { ok: false, issues: [{ path: 'response', message: 'must be an object of form fields' }] };
  const input = given as Record<string, unknown>;
  for (const key of Object.keys(input)) if (!Object.hasOwn(form, key)) issues.push({ path: `response.${key}`, message: 'is not a field of this form' });
  const value: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(form)) {
    const at = `response.${name}`;
    // Own keys only: an answer object always "has" `constructor`, `toString`...
    let v = Object.hasOwn(input, name) ? input[name] : undefined;
    if (opts.fromHtml && field.type === 'boolean') v = v === 'on' || v === 'true' || v === true;
    if (v === '' || v === undefined || v === null) v = undefined;
    if (v === undefined) {
      if (field.default !== undefined) value[name] = field.default;
      else if (field.type === 'boolean') value[name] = false;
      else if (field.required && opts.approving) issues.push({ path: at, message: 'is required' });
      if (field.type === 'boolean' && field.required && opts.approving && value[name] !== true) issues.push({ path: at, message: 'must be checked to approve' });
      continue;
    }
    // A required checkbox is a confirmation: approving needs it checked.
    if (field.type === 'boolean' && field.required && opts.approving && v !== true) {
      issues.push({ path: at, message: 'must be checked to approve' });
      continue;
    }
    const checked = checkValue(field, v, opts.fromHtml);
    if (typeof checked === 'string') issues.push({ path: at, message: checked });
    else value[name] = checked.value;
  }
  return issues.length ? { ok: false, issues } : { ok: true, value };
}

function checkValue(field: FormField, v: unknown, fromHtml: boolean): { value: unknown } | string {
  let value = v;
  if (field.type === 'number' || field.type === 'integer') {
    // A browser sends decimal text; `0x10`, `1e400` or `Infinity` are not numbers a person typed.
    if (typeof value === 'string' && fromHtml && /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d{1,3})?$/i.test(value.trim())) value = Number(value.trim());
    if (typeof value !== 'number' || !Number.isFinite(value)) return `must be a number`;
    if (field.type === 'integer' && !Number.isInteger(value)) return 'must be a whole number';
    if (field.minimum !== undefined && value < field.minimum) return `must be at least ${field.minimum}`;
    if (field.maximum !== undefined && value > field.maximum) return `must be at most ${field.maximum}`;
  } else if (field.type === 'boolean') {
    if (typeof value !== 'boolean') return 'must be true or false';
  } else {
    if (typeof value !== 'string') return 'must be text';
    if (value.length > (field.maxLength ?? MAX_TEXT)) return `must be at most ${field.maxLength ?? MAX_TEXT} characters`;
  }
  if (field.enum && !field.enum.some((e) => e === value || (fromHtml && String(e) === String(value)))) {
    return `must be one of ${field.enum.join(', ')}`;
  }
  // An enum of numbers posted from a page arrives as text: store the declared value.
  if (field.enum && typeof value === 'string') value = field.enum.find((e) => String(e) === value) ?? value;
  return { value };
}

import { ExpressionError } from '../errors';
import type { Scope } from '../expression/compile';
import { Budget } from '../expression/budget';
import { renderTemplate, type Template } from '../expression/template';
import { scopeRoots } from '../ensemble/ensemble';

/**
 * Renders a step's input. Its top-level keys can read one another by bare name
 * (`minApprovals: ${Math.ceil(approvers.length / 2)}`), evaluated on demand in dependency order.
 * Run roots (`input`, `env`, `execution`) and earlier steps win over a sibling of the same name.
 * All keys share one budget: siblings built from siblings (`l2: ${[l1, l1]}`) are charged as
 * often as the input would write them, and the first key over it is named in the refusal.
 */
export function renderInput(template: Template, scope: Scope, steps: { has(name: string): boolean }, budget = new Budget()): unknown {
  if (template.kind !== 'object') return renderTemplate(template, scope, budget, 'input');
  const templates = new Map(template.entries);
  const values = new Map<string, unknown>();
  const pending = new Set<string>();
  const get = (key: string): unknown => {
    if (values.has(key)) return values.get(key);
    if (pending.has(key)) throw new ExpressionError(`input '${key}' depends on itself`);
    pending.add(key);
    const value = renderTemplate(templates.get(key)!, siblingScope, budget, `input.${key}`);
    pending.delete(key);
    values.set(key, value);
    return value;
  };
  const siblingScope: Scope = (name) =>
    templates.has(name) && !scopeRoots.has(name) && !steps.has(name) ? get(name) : scope(name);
  return Object.fromEntries(template.entries.map(([key]) => [key, get(key)]));
}

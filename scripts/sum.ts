import type { AgentExecutionContext } from '@ensemble-edge/conductor';

/** Adds up the `amount` of each entry (for the expense-report example's reduce step). */
export default function sum(context: AgentExecutionContext<{ lines: { amount?: number }[] }>) {
  const total = context.input.lines.reduce((n, l) => n + (Number(l.amount) || 0), 0);
  return { total, count: context.input.lines.length };
}

import type { AgentExecutionContext } from '@ensemble-edge/conductor';

const PII = /\b(email|phone|ssn|address|birth|passport)\b/i;

/** Flags queries that select columns that look like personal data. */
export default function checkPii(context: AgentExecutionContext<{ query: string }>) {
  const detected = PII.test(context.input.query);
  return { detected, matches: detected ? context.input.query.match(new RegExp(PII, 'gi')) : [] };
}

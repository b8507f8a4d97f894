import type { AgentExecutionContext } from '@ensemble-edge/conductor';

export default function shout(context: AgentExecutionContext<{ text: string }>) {
  return { text: context.input.text.toUpperCase() };
}

import type { AgentExecutionContext } from '@ensemble-edge/conductor';

export default function greet(context: AgentExecutionContext<{ name: string; excited?: boolean }>) {
  const { name, excited } = context.input;
  return { message: `Hello, ${name}${excited ? '!' : '.'}` };
}

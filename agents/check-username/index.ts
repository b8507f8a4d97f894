import type { AgentExecutionContext } from '@ensemble-edge/conductor';

/** The handler of agents/check-username/agent.yaml. */
export default function checkUsername({ input, config }: AgentExecutionContext<{ username?: string }, { reserved?: string[] }>) {
  const name = String(input.username ?? '').trim().toLowerCase();
  if (!/^[a-z0-9_-]{3,32}$/.test(name)) return { available: false, message: 'a username is 3 to 32 letters, digits, _ or -' };
  const available = !(config.reserved ?? []).includes(name);
  return { available, message: available ? `${name} is free` : `${name} is taken` };
}

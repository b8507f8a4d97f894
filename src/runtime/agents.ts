import type { AgentName } from '../ensemble/schema';
import { hitlAgent } from '../hitl/agent';
import type { Agent } from './agent';

/** Built-in agents by name. */
export const agents: Partial<Record<AgentName, Agent>> = { hitl: hitlAgent };

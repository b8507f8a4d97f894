// scripts/auto-approve.ts (spec 004)
import type { AgentExecutionContext } from '@ensemble-edge/conductor'

export default function autoApprove(context: AgentExecutionContext) {
  const { riskScore } = context.input
  return { approved: true, auto: true, riskScore }
}

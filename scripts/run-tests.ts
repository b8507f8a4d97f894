// scripts/run-tests.ts (spec 004): a stand-in test run that fails when the diff says so.
import type { AgentExecutionContext } from '@ensemble-edge/conductor'

export default function runTests(context: AgentExecutionContext) {
  const { code } = context.input
  const failing = String(code ?? '').includes('FAILING_TEST')
  return { passed: !failing, failed: failing ? 1 : 0 }
}

// scripts/run-linter.ts (spec 004): a stand-in linter that fails on obvious problems.
import type { AgentExecutionContext } from '@ensemble-edge/conductor'

export default function runLinter(context: AgentExecutionContext) {
  const { code } = context.input
  const problems = String(code ?? '').split('\n').filter((line) => /\bdebugger\b|console\.log\(/.test(line))
  return { passed: problems.length === 0, problems }
}

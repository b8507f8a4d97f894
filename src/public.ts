// Types for authors of `scripts/` modules. tsconfig maps '@ensemble-edge/conductor' (the import the
// spec's scripts use) to this file, so the spec's scripts type-check as written.
export type { AgentExecutionContext, ExecutionInfo, StepView, ScriptFunction } from './runtime/context';

import type { AgentExecutionContext } from '@ensemble-edge/conductor';

/** A stand-in for a model call, so the examples run offline. */
export default function draft(context: AgentExecutionContext<{ topic: string; approvedBy?: unknown[] }>) {
  const { topic, approvedBy } = context.input;
  return approvedBy
    ? { published: true, topic, approvers: approvedBy.length }
    : { title: `Notes on ${topic}`, body: `A short post about ${topic}.` };
}

/** One thing wrong with an ensemble file, located to the character. */
export interface Problem {
  file: string;
  line: number;
  column: number;
  code: ProblemCode;
  message: string;
}

export type ProblemCode =
  | 'yaml'
  | 'schema'
  | 'expression'
  | 'reference'
  | 'duplicate-step'
  | 'duplicate-ensemble'
  | 'unknown-operation'
  | 'unknown-script'
  | 'config';

/** `file:line:col: message`, the format editors and terminals link. */
export const formatProblem = (p: Problem): string => `${p.file}:${p.line}:${p.column}: ${p.message}`;

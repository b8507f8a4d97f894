import type { TestProject } from 'vitest/node';
import { startReceiver } from './receiver';

declare module 'vitest' {
  export interface ProvidedContext {
    receiverUrl: string;
  }
}

/** Starts the local receiver (in Node) that Worker tests reach over real HTTP on 127.0.0.1. */
export default async function setup(project: TestProject) {
  const receiver = await startReceiver();
  project.provide('receiverUrl', receiver.url);
  return () => receiver.close();
}

import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import type { RunState } from '../runtime/run-state';

export interface StoredDefinition {
  file: string;
  source: string;
  hash: string;
}

/** One execution's durable home once it suspends (filled in by the HITL issue). */
export class HITLState extends DurableObject<Env> {
  async begin(_definition: StoredDefinition, _state: RunState): Promise<unknown> {
    throw new Error('not implemented');
  }
}

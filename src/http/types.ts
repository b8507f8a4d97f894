import type { Env } from '../env';
import type { EnsembleRegistry } from '../ensemble/registry';

export type AppEnv = { Bindings: Env; Variables: { registry: EnsembleRegistry } };

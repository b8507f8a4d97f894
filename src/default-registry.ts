import { ensembleFiles, libraryFiles, scripts } from '../generated/registry';
import type { Env } from './env';
import { EnsembleRegistry } from './ensemble/registry';
import { stepKinds } from './kinds';
import { publicEnvNames } from './runtime/env-secrets';

let registry: EnsembleRegistry | undefined;

/**
 * The registry of the files under ensembles/ and scripts/, with this deployment's kinds of step,
 * built on first use in this isolate (an isolate's env does not change: which env names are
 * configuration is known then).
 */
export function defaultRegistry(env: Env): EnsembleRegistry {
  registry ??= new EnsembleRegistry(ensembleFiles, scripts, stepKinds, publicEnvNames(env), libraryFiles);
  return registry;
}

import { ensembleFiles, scripts } from '../../generated/registry';
import type { Env } from '../env';
import { publicEnvNames } from '../runtime/env-secrets';
import { EnsembleRegistry } from './registry';

let registry: EnsembleRegistry | undefined;

/**
 * The registry of the files under ensembles/ and scripts/, built on first use in this isolate
 * (an isolate's env does not change: which env names are configuration is known then).
 */
export function defaultRegistry(env: Env): EnsembleRegistry {
  registry ??= new EnsembleRegistry(ensembleFiles, scripts, publicEnvNames(env));
  return registry;
}

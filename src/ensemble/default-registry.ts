import { ensembleFiles, scripts } from '../../generated/registry';
import { EnsembleRegistry } from './registry';

let registry: EnsembleRegistry | undefined;

/** The registry of the files under ensembles/ and scripts/, built on first use in this isolate. */
export function defaultRegistry(): EnsembleRegistry {
  registry ??= new EnsembleRegistry(ensembleFiles, scripts);
  return registry;
}

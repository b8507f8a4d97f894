import { z } from 'zod';
import { StepError } from '../errors';
import { defineOperation } from './operation';
import { scriptKey } from './script-name';
import { publicEnv } from '../runtime/public-env';
import { suggest } from '../ensemble/suggest';

/** `operation: code`: calls the default export of a module in `scripts/`. */
export const code = defineOperation({
  config: z.looseObject({
    script: z.string().min(1).describe('module in scripts/, e.g. scripts/auto-approve'),
  }),
  check(config, ctx) {
    const script = config.script;
    if (typeof script !== 'string' || ctx.scripts.has(scriptKey(script))) return [];
    const close = suggest(scriptKey(script), [...ctx.scripts]);
    const known = [...ctx.scripts].map((s) => `scripts/${s}`).join(', ') || 'none';
    return [{ path: ['script'], code: 'unknown-script', message: close ? `unknown script '${script}' — did you mean 'scripts/${close}'?` : `unknown script '${script}' (known: ${known})` }];
  },
  async run(ctx) {
    const module = ctx.scripts[scriptKey(ctx.config.script)];
    const fn = module?.default;
    if (typeof fn !== 'function') {
      throw new StepError('SCRIPT_NOT_FOUND', `script '${ctx.config.script}' has no default-exported function`);
    }
    const { script: _script, ...config } = ctx.config;
    // Its own copies: a script may change what it was given, never the run's records.
    return await fn({
      input: structuredClone(ctx.input ?? {}),
      config: structuredClone(config),
      env: { ...publicEnv(ctx.env) }, // its own copy: a script may change what it was given
      execution: ctx.execution,
      steps: ctx.steps,
    });
  },
});

import { z } from 'zod';
import { StepError } from '../errors';
import { defineOperation } from './operation';
import { scriptKey } from './script-name';
import { publicEnv } from '../runtime/public-env';
import { suggest } from '../ensemble/suggest';
import { INLINE_CODE } from '../ensemble/load-tree';

/** `operation: code`: calls the default export of a module in `scripts/`. */
export const code = defineOperation({
  // `script` is optional to the loader only so that conductor's inline code is one problem (its own).
  config: z.looseObject({
    script: z.string().min(1).optional().describe('module in scripts/, e.g. scripts/auto-approve'),
  }),
  editorSchema: z.looseObject({
    script: z.string().min(1).describe('module in scripts/, e.g. scripts/auto-approve'),
  }),
  check(config, ctx) {
    const script = config.script;
    // Conductor's inline code (`code:`, `inline:`) is reported once where it is written.
    if (script === undefined && (config.code === INLINE_CODE || config.inline === INLINE_CODE)) return [];
    if (script === undefined) {
      const misspelt = Object.keys(config).find((k) => suggest(k, ['script']) === 'script');
      if (misspelt) return [{ path: [misspelt], atKey: true, message: `unknown config key '${misspelt}' for operation 'code' — did you mean 'script'?` }];
      return [{ path: ['script'], message: "'script' is required: the module in scripts/ to call (e.g. scripts/auto-approve)" }];
    }
    if (typeof script !== 'string' || ctx.scripts.has(scriptKey(script))) return [];
    const close = suggest(scriptKey(script), [...ctx.scripts]);
    const known = [...ctx.scripts].filter((s) => !s.startsWith('agents/')).map((s) => `scripts/${s}`).join(', ') || 'none';
    return [{ path: ['script'], code: 'unknown-script', message: close ? `unknown script '${script}' — did you mean 'scripts/${close}'?` : `unknown script '${script}' (known: ${known})` }];
  },
  async run(ctx) {
    if (ctx.config.script === undefined) throw new StepError('SCRIPT_NOT_FOUND', 'a code step needs `script:` (a module in scripts/)');
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

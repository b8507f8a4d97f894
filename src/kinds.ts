import type { StepKinds } from './runtime/step-kind';
import { code } from './operations/code';
import { data } from './operations/data';
import { email } from './operations/email';
import { http } from './operations/http';
import { html } from './operations/html';
import { storage } from './operations/storage';
import { think } from './operations/think/think';
import { transform } from './operations/transform';
import { hitl } from './hitl/kind';
import { wait } from './events/wait';

/**
 * Every kind of step this deployment runs, by the name a step gives it (`operation: http`,
 * `agent: hitl`). Handed to the loader, the engine and the JSON Schema generator: a new kind is
 * its own file and one line here.
 */
export const stepKinds = { code, http, think, email, data, storage, transform, html, hitl, wait } as const satisfies StepKinds;

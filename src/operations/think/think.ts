import { z } from 'zod';
import { defineOperation } from '../operation';
import { pickProvider, providerNames, providers } from './providers';
import { interpretReply } from './reply';

/** `operation: think`: one chat completion from Workers AI, an OpenAI-compatible API, or Anthropic. */
export const think = defineOperation({
  config: z.strictObject({
    prompt: z.string().min(1).meta({ description: 'what the model is asked', examples: ['Summarise: ${fetch.output.body}'] }),
    system: z.string().optional().describe('the system prompt'),
    systemPrompt: z.string().optional().describe("conductor's spelling of `system`"),
    model: z.string().optional().describe('the model name; default depends on the provider'),
    provider: z.enum(providerNames).optional().describe('which model API; default: the first configured'),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: z.number().int().positive().optional().describe('upper bound on the reply length'),
    output: z.enum(['text', 'json']).optional().describe('json: the reply must be a JSON object'),
    schema: z.record(z.string(), z.unknown()).optional().describe('JSON Schema the JSON reply is validated against'),
  }),
  async run({ config, env }) {
    const provider = pickProvider(env, config.provider);
    const reply = await providers[provider](env, {
      prompt: config.prompt,
      system: config.system ?? config.systemPrompt,
      model: config.model,
      temperature: config.temperature,
      maxTokens: config.maxTokens,
      json: config.output === 'json' || config.schema !== undefined,
    });
    return interpretReply(reply, config.output, config.schema);
  },
});

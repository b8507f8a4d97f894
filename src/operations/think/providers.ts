import type { Env } from '../../env';
import { StepError } from '../../errors';
import { withRetry } from '../../runtime/retry';

export const providerNames = ['workers-ai', 'openai', 'anthropic', 'echo'] as const;
export type ProviderName = (typeof providerNames)[number];

export interface ChatRequest {
  prompt: string;
  system?: string;
  model?: string;
  temperature?: number;
  maxTokens?: number;
  json: boolean;
}

type Provider = (env: Env, req: ChatRequest) => Promise<string>;

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** 429 and 5xx from a model API are worth another try; anything else is the caller's mistake. */
class ModelHttpError extends StepError {
  constructor(readonly upstreamStatus: number, provider: string, body: string) {
    super('MODEL_ERROR', `${provider} answered ${upstreamStatus}: ${body.slice(0, 300)}`);
  }
}

async function postModel(provider: string, url: string, headers: Record<string, string>, body: unknown): Promise<any> {
  return withRetry({ attempts: 3, backoffMs: 250 }, async () => {
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
    } catch (cause) {
      throw new StepError('MODEL_UNREACHABLE', `${provider} at ${url}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    const text = await res.text();
    if (!res.ok) throw new ModelHttpError(res.status, provider, text);
    try {
      return JSON.parse(text);
    } catch {
      throw new StepError('MODEL_ERROR', `${provider} answered with something that is not JSON`);
    }
  }, (e) => !(e instanceof ModelHttpError) || e.upstreamStatus === 429 || e.upstreamStatus >= 500);
}

const messages = (req: ChatRequest) => [
  ...(req.system ? [{ role: 'system', content: req.system }] : []),
  { role: 'user', content: req.prompt },
];

/** Every provider, by name. */
export const providers: Record<ProviderName, Provider> = {
  /** The `AI` binding (Workers AI). */
  'workers-ai': async (env, req) => {
    if (!env.AI) throw new StepError('NO_MODEL_PROVIDER', 'the workers-ai provider needs the AI binding');
    const model = req.model ?? str(env.WORKERS_AI_MODEL) ?? '@cf/meta/llama-3.1-8b-instruct';
    const result = (await env.AI.run(model as never, { messages: messages(req), temperature: req.temperature, max_tokens: req.maxTokens } as never)) as { response?: unknown };
    return typeof result?.response === 'string' ? result.response : JSON.stringify(result?.response ?? result);
  },
  /** Any OpenAI-compatible chat-completions endpoint. */
  openai: async (env, req) => {
    const key = str(env.OPENAI_API_KEY);
    if (!key) throw new StepError('NO_MODEL_PROVIDER', 'the openai provider needs OPENAI_API_KEY');
    const base = (str(env.OPENAI_BASE_URL) ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
    const data = await postModel('openai', `${base}/chat/completions`, { authorization: `Bearer ${key}` }, {
      model: req.model ?? str(env.OPENAI_MODEL) ?? 'gpt-4o-mini',
      messages: messages(req),
      ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
      ...(req.maxTokens === undefined ? {} : { max_tokens: req.maxTokens }),
      ...(req.json ? { response_format: { type: 'json_object' } } : {}),
    });
    const content = data?.choices?.[0]?.message?.content;
    if (typeof content !== 'string') throw new StepError('MODEL_ERROR', 'openai answer has no choices[0].message.content');
    return content;
  },
  /** Anthropic's Messages API. */
  anthropic: async (env, req) => {
    const key = str(env.ANTHROPIC_API_KEY);
    if (!key) throw new StepError('NO_MODEL_PROVIDER', 'the anthropic provider needs ANTHROPIC_API_KEY');
    const base = (str(env.ANTHROPIC_BASE_URL) ?? 'https://api.anthropic.com').replace(/\/+$/, '');
    const data = await postModel('anthropic', `${base}/v1/messages`, { 'x-api-key': key, 'anthropic-version': '2023-06-01' }, {
      model: req.model ?? str(env.ANTHROPIC_MODEL) ?? 'claude-3-5-haiku-latest',
      max_tokens: req.maxTokens ?? 1024,
      ...(req.system ? { system: req.system } : {}),
      ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
      messages: [{ role: 'user', content: req.prompt }],
    });
    const blocks = Array.isArray(data?.content) ? data.content : [];
    const text = blocks.filter((b: any) => b?.type === 'text').map((b: any) => String(b.text)).join('');
    if (!text) throw new StepError('MODEL_ERROR', 'anthropic answer has no text content');
    return text;
  },
  /**
   * Development only (THINK_PROVIDER=echo, set by `npm start` when no model is configured): replies
   * with the prompt, or, when the prompt ends with a JSON object (`Assess risk for ${input.x}`),
   * with that object, so an example's input can say what the model would have answered.
   */
  echo: async (_env, req) => echoReply(req.prompt),
};

/** The JSON object a prompt ends with (the first `{` from which the rest parses), else the prompt. */
export function echoReply(prompt: string): string {
  // A few braces at most: a prompt full of them must not cost a parse per brace.
  for (let at = prompt.indexOf('{'), tries = 0; at !== -1 && tries < 16; at = prompt.indexOf('{', at + 1), tries++) {
    const rest = prompt.slice(at).trim();
    try {
      const value: unknown = JSON.parse(rest);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) return rest;
    } catch {
      // Not from here: try the next brace.
    }
  }
  return prompt;
}

/**
 * The provider of a step: `config.provider`, else THINK_PROVIDER, else the first configured of the
 * AI binding, OPENAI_API_KEY, ANTHROPIC_API_KEY.
 */
export function pickProvider(env: Env, requested?: string): ProviderName {
  const name = requested ?? str(env.THINK_PROVIDER);
  if (name) {
    if ((providerNames as readonly string[]).includes(name)) return name as ProviderName;
    throw new StepError('UNKNOWN_MODEL_PROVIDER', `unknown model provider '${name}' (known: ${providerNames.join(', ')})`);
  }
  if (env.AI) return 'workers-ai';
  if (str(env.OPENAI_API_KEY)) return 'openai';
  if (str(env.ANTHROPIC_API_KEY)) return 'anthropic';
  throw new StepError('NO_MODEL_PROVIDER', 'no model provider is configured for operation think: bind AI (Workers AI), or set OPENAI_API_KEY (and OPENAI_BASE_URL for any OpenAI-compatible API) or ANTHROPIC_API_KEY');
}

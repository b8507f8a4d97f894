/// <reference path="./worker-configuration.d.ts" />

/**
 * The Worker's bindings and variables. What wrangler.toml declares (bindings, [vars]) is generated
 * by `npm run types` (`wrangler types`) into src/worker-configuration.d.ts as `Cloudflare.Env`, and
 * a test fails when it is stale; secrets and optional settings, which wrangler.toml does not hold,
 * are declared here on the same interface. Read per request, never at module scope.
 */
export type Env = Cloudflare.Env;

declare global {
  namespace Cloudflare {
    interface Env {
      AI?: Ai;
      API_KEY?: string;
      PUBLIC_BASE_URL?: string;
      HITL_WEBHOOK_SECRET?: string;
      HITL_TOKEN_SECRET?: string;
      HITL_NOTIFY_BACKOFF_MS?: string;
      MAILCHANNELS_API_KEY?: string;
      MAILCHANNELS_API_URL?: string;
      SLACK_WEBHOOK_URL?: string;
      /** Cloudflare Access identities that may use the operator console (comma-separated emails). */
      ADMIN_EMAILS?: string;
      /** info (default) | warn | error: the lowest level of the structured log lines written (src/log.ts). */
      LOG_LEVEL?: string;
      /** Local development (set by `npm start`): the console channel prints links. */
      HITL_DEV?: string;
      /** Slack app mode: bot token (chat:write, users:read, users:read.email) and request signing secret. */
      SLACK_BOT_TOKEN?: string;
      SLACK_SIGNING_SECRET?: string;
      SLACK_API_URL?: string;
      /** Cloudflare Access: team domain and the application's AUD tag; ACCESS_CERTS_URL overrides the keys' URL. */
      ACCESS_TEAM_DOMAIN?: string;
      ACCESS_AUD?: string;
      ACCESS_CERTS_URL?: string;
      THINK_PROVIDER?: string;
      OPENAI_API_KEY?: string;
      OPENAI_BASE_URL?: string;
      ANTHROPIC_API_KEY?: string;
      ANTHROPIC_BASE_URL?: string;
      EMAIL_FROM?: string;
      /** How long an event no wait took is kept for a later wait (a duration, default "24h"; src/events/names.ts). */
      EVENT_LOOKBACK?: string;
      /** Anything else set as a var or secret is readable by name from expressions. */
      [name: string]: unknown;
    }
  }
}

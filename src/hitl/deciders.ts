import type { Env } from '../env';
import { displayIdentity, isEmailName, sameIdentity, slackUserId } from '../identity/normalize';
import { slackUserNames } from '../notify/slack-api';
import type { Decider, RequesterNames } from './machine';
import type { DecisionBody } from './request';
import { fail, ok, type Result } from './result';
import type { RequestRow, TokenRow } from './store';

// Who is deciding, as far as this object can tell before the state machine judges it: the link's
// owner, a verified Access user, a typed name, or a Slack user, plus what Slack says about
// `slack:U…` names (the email that makes them the same person as an approver listed by email).

/**
 * Who decides through a link: its bound approver, a verified Access user (`viewer`), or a typed
 * name. Refuses a spent link, and a personal link opened by someone Access knows as another person.
 */
export function linkDecider(row: TokenRow, body: Pick<DecisionBody, 'approver'>, status: string, viewer: string | undefined): Result<Decider> {
  if (row.approver !== null) {
    // Comparable only when the owner is known by email (Access knows people by email); the Slack
    // email of a `slack:U…` owner is compared once it is known (see slackFacts).
    if (viewer !== undefined && isEmailName(row.approver) && !sameIdentity(row.approver, viewer)) return mismatch(row.approver, viewer);
    if (row.usedAt !== null) return tokenUsed(row, status);
    return ok({ name: row.approver, verified: true, via: 'link' });
  }
  if (viewer !== undefined) return ok({ name: viewer, verified: true, via: 'access' });
  if (row.usedAt !== null) return tokenUsed(row, status);
  const typed = body.approver ?? 'anonymous';
  if (displayIdentity(typed) === '') return fail('INVALID_INPUT', 400, 'the approver name is empty once invisible characters are removed');
  return ok({ name: typed, verified: false, via: 'shared' });
}

/** A personal link whose owner's email (learned from Slack) is not who Access says opened it. */
export function viewerMismatch(decider: Decider, viewer: string | undefined): Result<never> | undefined {
  if (viewer === undefined || decider.via !== 'link') return undefined;
  const names = [decider.name, ...(decider.aliases ?? [])];
  if (!names.some(isEmailName) || names.some((n) => sameIdentity(n, viewer))) return undefined;
  return mismatch(decider.name, viewer);
}

const mismatch = (owner: string, viewer: string) =>
  fail('IDENTITY_MISMATCH', 403, `this link belongs to ${owner}, but you are signed in as ${viewer}`, { linkFor: owner, signedInAs: viewer });

const tokenUsed = (row: TokenRow, status: string) =>
  fail('TOKEN_USED', 409, `this link was already used by ${row.usedBy} at ${new Date(row.usedAt!).toISOString()}`, {
    decidedBy: row.usedBy, decidedAt: new Date(row.usedAt!).toISOString(), status,
  });

/** A Slack user: recorded by email when Slack shares it, matched to approvers by id or email. */
export function slackDecider(names: string[]): Decider {
  const email = names.find(isEmailName);
  return { name: email ?? names[0]!, aliases: names.filter((n) => n !== email), verified: true, via: 'slack', ...(email ? {} : { emailUnknown: true }) };
}

/** A request a decision could still land on (only then is Slack asked anything). */
export const decidable = (request: RequestRow, now = Date.now()) => request.approval.status === 'pending' && now < request.expiresAt;

export interface SlackFacts {
  decider: Decider;
  requester?: RequesterNames;
}

/** The fields of a decider that Slack facts may add. */
export const pick = (d: Decider): Partial<Decider> => ({ ...(d.aliases ? { aliases: d.aliases } : {}), ...(d.emailUnknown ? { emailUnknown: true } : {}) });

/**
 * What Slack says about the people a decision involves: the email of a `slack:U…` link owner and
 * of a `slack:U…` requester. Without the bot token, or when Slack will not tell, the email is
 * unknown, and the state machine refuses where that could let someone approve their own request
 * or count twice. Lookup errors are logged, never returned to the client.
 */
export async function slackFacts(env: Env, request: RequestRow, decider: Decider): Promise<SlackFacts> {
  const emailOf = async (id: string): Promise<string | undefined> => {
    if (typeof env.SLACK_BOT_TOKEN !== 'string' || !env.SLACK_BOT_TOKEN) return undefined;
    const { names, lookupError } = await slackUserNames(env, id);
    if (lookupError) console.warn(JSON.stringify({ msg: 'slack users.info failed', user: id, error: lookupError }));
    return names.find(isEmailName);
  };
  const out: SlackFacts = { decider };
  const ownerId = decider.via === 'link' ? slackUserId(decider.name) : undefined;
  if (ownerId) {
    const email = await emailOf(ownerId);
    out.decider = email ? { ...decider, aliases: [...(decider.aliases ?? []), email] } : { ...decider, emailUnknown: true };
  }
  const requesterId = request.spec.requester ? slackUserId(request.spec.requester) : undefined;
  if (requesterId) {
    const email = await emailOf(requesterId);
    out.requester = { aliases: email ? [email] : [], emailUnknown: !email };
  }
  return out;
}

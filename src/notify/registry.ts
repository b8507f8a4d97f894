import type { Channel } from '../hitl/request';
import type { NotificationChannel } from './channel';
import { consoleChannel } from './console';
import { emailChannel } from './email';
import { slackChannel } from './slack';
import { webhookChannel } from './webhook';
import { teamsChannel } from './teams';

/** Every notification channel by name; the compiler checks none is missing. */
export const channels: Record<Channel, NotificationChannel> = {
  console: consoleChannel,
  webhook: webhookChannel,
  slack: slackChannel,
  email: emailChannel,
  teams: teamsChannel,
};

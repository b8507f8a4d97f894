import type { Channel } from '../hitl/request';
import type { NotificationChannel } from './channel';
import { consoleChannel } from './console';
import { webhookChannel } from './webhook';

/** Every notification channel by name. */
export const channels: Partial<Record<Channel, NotificationChannel>> = {
  console: consoleChannel,
  webhook: webhookChannel,
};

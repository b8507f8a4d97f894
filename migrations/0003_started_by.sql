-- How each run was started (api, cron, webhook, queue, email, event): `GET /executions?trigger=`,
-- the console and /stats. Runs indexed before this column are API runs.
ALTER TABLE executions ADD COLUMN started_by TEXT NOT NULL DEFAULT 'api';
CREATE INDEX IF NOT EXISTS executions_by_trigger ON executions (started_by, created_at DESC, id DESC);

-- The executions index: one row per execution, every run (also those that never suspend), for
-- lists, filters, the operator console and stats. The execution's Durable Object stays the source
-- of truth and rewrites its row on every status change (`version` keeps a late write from
-- overwriting a newer one).
CREATE TABLE IF NOT EXISTS executions (
  id TEXT PRIMARY KEY,
  ensemble TEXT NOT NULL,
  status TEXT NOT NULL,               -- running | suspended | completed | failed | cancelled
  created_at INTEGER NOT NULL,        -- epoch ms
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 0,
  pending_step TEXT,                  -- while suspended: the step waiting for people
  pending_approvers TEXT,             -- JSON list of who has not decided yet
  expires_at INTEGER,
  requested_at INTEGER,
  summary TEXT                        -- runs that never suspended: {input, output, steps, error} (bounded)
);
-- Lists are newest first, optionally by status or ensemble: keyset pagination on (created_at, id).
CREATE INDEX IF NOT EXISTS executions_by_created ON executions (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS executions_by_ensemble ON executions (ensemble, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS executions_by_updated ON executions (updated_at);

-- Who an open request waits on (normalized identities), for `?approver=` and inboxes.
CREATE TABLE IF NOT EXISTS execution_approvers (
  approver TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  PRIMARY KEY (approver, execution_id)
);
CREATE INDEX IF NOT EXISTS execution_approvers_by_execution ON execution_approvers (execution_id);

-- Every approval request and when it closed: decision latency for /stats.
CREATE TABLE IF NOT EXISTS approval_requests (
  execution_id TEXT NOT NULL,
  request_id INTEGER NOT NULL,
  step TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  closed_at INTEGER,
  outcome TEXT,                       -- approved | rejected | timeout | cancelled
  PRIMARY KEY (execution_id, request_id)
);
CREATE INDEX IF NOT EXISTS approval_requests_by_closed ON approval_requests (closed_at);

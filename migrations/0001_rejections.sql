-- Used by the spec's "Track Rejections" pattern (operation: data, backend: d1).
CREATE TABLE IF NOT EXISTS rejections (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  data TEXT,
  reason TEXT,
  timestamp TEXT
);

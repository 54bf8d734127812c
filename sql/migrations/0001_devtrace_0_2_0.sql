-- The schema of DevTrace 0.2.0, exactly. A store made by 0.2.0 already has these tables,
-- so this step is a no-op there and every store then follows the same path forward.
CREATE TABLE IF NOT EXISTS command_events (
    id TEXT PRIMARY KEY,
    agent_id TEXT,
    executed_at REAL NOT NULL,
    command_hash TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    exit_code INTEGER NOT NULL,
    timed_out INTEGER NOT NULL,
    files_touched_count INTEGER NOT NULL,
    lines_added INTEGER NOT NULL,
    lines_deleted INTEGER NOT NULL,
    predicted_productivity REAL,
    top_contribution_feature TEXT,
    top_contribution_value REAL,
    model_ref TEXT
);

CREATE TABLE IF NOT EXISTS sync_queue (
    event_id TEXT PRIMARY KEY,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at REAL,
    last_error TEXT
);

-- Capture core: git fields become nullable (NULL = not a git repo, unknown is not zero),
-- new capture columns, labels, and guards that keep events append-only.
CREATE TABLE command_events_v2 (
    id TEXT PRIMARY KEY,
    agent_id TEXT,
    executed_at REAL NOT NULL,               -- unix seconds, = started_at
    command_hash TEXT NOT NULL,              -- HMAC-SHA256 of the argv, 64 hex chars
    duration_ms INTEGER NOT NULL,
    exit_code INTEGER NOT NULL,
    timed_out INTEGER NOT NULL,
    files_touched_count INTEGER,             -- state at the end: working tree + index vs HEAD
    lines_added INTEGER,
    lines_deleted INTEGER,
    predicted_productivity REAL,
    top_contribution_feature TEXT,
    top_contribution_value REAL,
    model_ref TEXT,
    started_at REAL,
    ended_at REAL,
    session_id TEXT,
    repo_id TEXT,                            -- keyed hash of the repository's identity
    program TEXT,                            -- basename of argv[0], unless turned off
    delta_files INTEGER,                     -- the change the command itself made
    delta_lines_added INTEGER,
    delta_lines_deleted INTEGER,
    scored_at REAL
);

INSERT INTO command_events_v2 (
    id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out,
    files_touched_count, lines_added, lines_deleted, predicted_productivity,
    top_contribution_feature, top_contribution_value, model_ref, started_at, ended_at
)
SELECT
    id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out,
    files_touched_count, lines_added, lines_deleted, predicted_productivity,
    top_contribution_feature, top_contribution_value, model_ref,
    executed_at, executed_at + duration_ms / 1000.0
FROM command_events;

DROP TABLE command_events;
ALTER TABLE command_events_v2 RENAME TO command_events;

CREATE INDEX command_events_executed_at ON command_events (executed_at);
CREATE INDEX command_events_session ON command_events (session_id, executed_at);
CREATE INDEX command_events_unscored ON command_events (id) WHERE scored_at IS NULL;

-- Only the score columns of an event may change after it is written.
CREATE TRIGGER command_events_append_only
BEFORE UPDATE OF id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out,
    files_touched_count, lines_added, lines_deleted, started_at, ended_at, session_id,
    repo_id, program, delta_files, delta_lines_added, delta_lines_deleted
ON command_events
BEGIN
    SELECT RAISE(ABORT, 'command events are append-only');
END;

-- Labels are append-only too: the latest label of an event is the one that counts.
CREATE TABLE labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL REFERENCES command_events (id),
    value REAL NOT NULL CHECK (value >= 0 AND value <= 100),
    source TEXT NOT NULL CHECK (source IN ('human', 'pseudo')),
    labeled_by TEXT,
    note TEXT,
    created_at REAL NOT NULL
);

CREATE INDEX labels_event ON labels (event_id, created_at);

CREATE TRIGGER labels_append_only
BEFORE UPDATE ON labels
BEGIN
    SELECT RAISE(ABORT, 'labels are append-only');
END;

CREATE INDEX sync_queue_status ON sync_queue (status);

-- An event's central identity is (machine, id) (issue 23): two machines' events with the
-- same id are two events, not one and a "duplicate". SQLite cannot drop the UNIQUE on id:
-- the table is rebuilt, same columns in the same order, same seq (AUTOINCREMENT carries on,
-- so the lake's flush watermark stays valid).
CREATE TABLE command_events_v5 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    agent_id TEXT,
    executed_at DOUBLE PRECISION NOT NULL,
    command_hash TEXT NOT NULL,
    duration_ms BIGINT,                   -- NULL: the agent's hook does not say (Codex)
    exit_code INTEGER,                    -- NULL: the agent's hook does not say (Codex)
    timed_out INTEGER,
    files_touched_count BIGINT,
    lines_added BIGINT,
    lines_deleted BIGINT,
    predicted_productivity DOUBLE PRECISION,
    top_contribution_feature TEXT,
    top_contribution_value DOUBLE PRECISION,
    model_ref TEXT,
    started_at DOUBLE PRECISION,
    ended_at DOUBLE PRECISION,
    session_id TEXT,
    repo_id TEXT,
    program TEXT,
    delta_files BIGINT,
    delta_lines_added BIGINT,
    delta_lines_deleted BIGINT,
    scored_at DOUBLE PRECISION,
    author_kind TEXT,
    captured_by TEXT,                     -- run, a shell hook, an agent hook
    duration_approximate INTEGER NOT NULL DEFAULT 0,
    key_fingerprint TEXT,                 -- which hash key made command_hash/repo_id/session_id
    machine TEXT NOT NULL,                -- the name of the token that pushed it
    received_at DOUBLE PRECISION NOT NULL, -- the server's clock when the batch was accepted
    UNIQUE (machine, id)
);

INSERT INTO command_events_v5 SELECT * FROM command_events;

-- ids are never reused, even those of rows deleted since (the lake's watermark is past them)
DELETE FROM sqlite_sequence WHERE name = 'command_events_v5';

INSERT INTO sqlite_sequence (name, seq) SELECT 'command_events_v5', seq FROM sqlite_sequence WHERE name = 'command_events';

DROP TABLE command_events;

ALTER TABLE command_events_v5 RENAME TO command_events;

CREATE INDEX command_events_executed_at ON command_events (executed_at);

CREATE INDEX command_events_machine ON command_events (machine, executed_at);

-- The central store: events and labels pushed by every machine, tokens, the organisation's
-- hash key, published models and their approvals. One file for SQLite and PostgreSQL; the
-- runner replaces @SERIAL@ with the dialect's auto-increment primary key:
--   SQLite      INTEGER PRIMARY KEY AUTOINCREMENT          (never reused)
--   PostgreSQL  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
-- Times are unix seconds (DOUBLE PRECISION), as in the local store, so the views in
-- sql/views/ read these tables unchanged.

-- Every column of the local command_events table, in the same order, then where the event
-- came from. `seq` follows commit order (ingestion serialises its final INSERT), so
-- "every row with seq > watermark" is a safe way to find what arrived since.
CREATE TABLE command_events (
    seq @SERIAL@,
    id TEXT NOT NULL UNIQUE,
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
    received_at DOUBLE PRECISION NOT NULL -- the server's clock when the batch was accepted
);

CREATE INDEX command_events_executed_at ON command_events (executed_at);
CREATE INDEX command_events_machine ON command_events (machine, executed_at);

-- Labels from every machine. `id` is the central id (insert order, as `seq` above);
-- (event_id, client_label_id) is the label's identity, so a re-push inserts nothing.
CREATE TABLE labels (
    id @SERIAL@,
    event_id TEXT NOT NULL,
    client_label_id BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL CHECK (value >= 0 AND value <= 100),
    source TEXT NOT NULL CHECK (source IN ('human', 'pseudo')),
    labeled_by TEXT,
    note TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    machine TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    UNIQUE (event_id, client_label_id)
);

CREATE INDEX labels_event ON labels (event_id, created_at);

-- Bearer tokens, hashed: sha256 hex of the token text. Scopes: ingest < read < admin.
CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('ingest', 'read', 'admin')),
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION,
    revoked_at DOUBLE PRECISION
);

-- The organisation's hash key, handed to a machine when it enrolls. The newest row is the
-- one handed out; fingerprint = the first 16 hex of HMAC-SHA256(key, "devtrace key fingerprint").
CREATE TABLE hash_keys (
    fingerprint TEXT PRIMARY KEY,
    hash_key TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);

-- Published model versions (an XGBoost model.json and its metadata.json, as text).
CREATE TABLE models (
    version TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,                 -- of model.json's bytes
    model_json TEXT NOT NULL,
    metadata_json TEXT NOT NULL,
    published_by TEXT NOT NULL,           -- token name
    published_at DOUBLE PRECISION NOT NULL
);

-- Approvals, append-only: the organisation's active model is the one approved last.
-- Rolling back is approving an older version again.
CREATE TABLE model_approvals (
    id @SERIAL@,
    version TEXT NOT NULL REFERENCES models (version),
    approved_by TEXT NOT NULL,            -- token name
    approved_at DOUBLE PRECISION NOT NULL
);

-- Automatic capture (shell and agent hooks). Who ran a command (`author_kind`), which hook
-- captured it (`captured_by`), and whether its duration was timed by DevTrace's hook rather
-- than the shell or agent itself (`duration_approximate`). An agent that does not report an
-- exit code, duration or timeout leaves them NULL: unknown is not zero, so those columns
-- lose their NOT NULL. Plus the writer's own state: Pre/Post pairs waiting for their end,
-- and each session's last git state per repository (the "before" of its next command).
CREATE TABLE command_events_v4 (
    id TEXT PRIMARY KEY,
    agent_id TEXT,
    executed_at REAL NOT NULL,               -- unix seconds, = started_at
    command_hash TEXT NOT NULL,              -- HMAC-SHA256 of the command's words, 64 hex chars
    duration_ms INTEGER,                     -- NULL: the agent did not say and no pair timed it
    exit_code INTEGER,                       -- NULL: the agent did not say (Codex)
    timed_out INTEGER,                       -- NULL: the agent did not say
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
    program TEXT,                            -- basename of the program run, unless turned off
    delta_files INTEGER,                     -- the change the command itself made
    delta_lines_added INTEGER,
    delta_lines_deleted INTEGER,
    scored_at REAL,
    author_kind TEXT CHECK (author_kind IN ('human', 'agent')),  -- NULL: unknown
    captured_by TEXT,                        -- run, bash, zsh, fish, claude-code, codex, gemini
    duration_approximate INTEGER NOT NULL DEFAULT 0  -- 1: timed by a Pre/Post hook pair
);

INSERT INTO command_events_v4 (
    id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out,
    files_touched_count, lines_added, lines_deleted, predicted_productivity,
    top_contribution_feature, top_contribution_value, model_ref, started_at, ended_at,
    session_id, repo_id, program, delta_files, delta_lines_added, delta_lines_deleted,
    scored_at, captured_by
)
SELECT
    id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out,
    files_touched_count, lines_added, lines_deleted, predicted_productivity,
    top_contribution_feature, top_contribution_value, model_ref, started_at, ended_at,
    session_id, repo_id, program, delta_files, delta_lines_added, delta_lines_deleted,
    scored_at, 'run'
FROM command_events;

DROP TABLE command_events;
ALTER TABLE command_events_v4 RENAME TO command_events;

CREATE INDEX command_events_executed_at ON command_events (executed_at);
CREATE INDEX command_events_session ON command_events (session_id, executed_at);
CREATE INDEX command_events_unscored ON command_events (id) WHERE scored_at IS NULL;

CREATE TRIGGER command_events_append_only
BEFORE UPDATE OF id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out,
    files_touched_count, lines_added, lines_deleted, started_at, ended_at, session_id,
    repo_id, program, delta_files, delta_lines_added, delta_lines_deleted, author_kind,
    captured_by, duration_approximate
ON command_events
BEGIN
    SELECT RAISE(ABORT, 'command events are append-only');
END;

CREATE TRIGGER command_events_never_deleted
BEFORE DELETE ON command_events
BEGIN
    SELECT RAISE(ABORT, 'command events are never deleted');
END;

-- A Codex PreToolUse or Gemini BeforeTool waiting for its Post/After. `call_key` is Codex's
-- tool_use_id, or for Gemini (no call id) the command's hash: its calls run one at a time.
CREATE TABLE hook_pending (
    captured_by TEXT NOT NULL,
    session_id TEXT NOT NULL,
    call_key TEXT NOT NULL,
    started_at REAL NOT NULL,
    PRIMARY KEY (captured_by, session_id, call_key, started_at)
);

-- Each hook session's git state after its last command in a repository. `files` maps a
-- keyed hash of each changed path (never the path) to its lines added and deleted.
CREATE TABLE hook_git_state (
    session_id TEXT NOT NULL,
    repo_id TEXT NOT NULL,
    head TEXT,                               -- the commit HEAD pointed at then
    files TEXT NOT NULL,                     -- JSON {path hash: [added, deleted]}
    ended_at REAL NOT NULL,                  -- end of the command that left this state
    PRIMARY KEY (session_id, repo_id)
);

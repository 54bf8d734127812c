-- Outcomes (issue 22): which commit HEAD pointed at when each command ended, as a keyed hash
-- (the store's key, or the organisation's: the same hashing as repo_id). Consecutive events
-- of a repository with different head_hash mean HEAD moved between them (a commit, a
-- checkout, a reset): what sql/views/20_outcomes.sql reads to tell whether a change was kept.
-- NULL: not a git repo, a repository without commits, or captured before this migration.
-- Local only: `devtrace sync` does not send it (the server ignores unknown columns).
ALTER TABLE command_events ADD COLUMN head_hash TEXT;

DROP TRIGGER command_events_append_only;
CREATE TRIGGER command_events_append_only
BEFORE UPDATE OF id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out,
    files_touched_count, lines_added, lines_deleted, started_at, ended_at, session_id,
    repo_id, program, delta_files, delta_lines_added, delta_lines_deleted, author_kind,
    captured_by, duration_approximate, key_fingerprint, head_hash
ON command_events
BEGIN
    SELECT RAISE(ABORT, 'command events are append-only');
END;

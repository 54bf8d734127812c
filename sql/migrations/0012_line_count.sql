-- Multi-line command lines (issue 19): zsh and fish run a bracketed paste, and any command typed
-- over continuation lines, as one line (one preexec, one precmd, one history entry): one
-- event, whose hash is the whole text's and whose exit code is the last command's. line_count
-- says so: the number of non-blank lines of the line a shell's hook reported as this event,
-- where it is more than one; NULL for a one-line command, for an agent's or `devtrace run`'s
-- command, and for events captured before this migration. A count only, never text: it is
-- set with `command_text = "off"` too. Such an event's `program` is NULL (the first line's
-- program is not the event's). bash under its hook records each command of a paste on its own.
-- Local only: `devtrace sync` sends it, the server ignores it (unknown columns are ignored).
ALTER TABLE command_events ADD COLUMN line_count INTEGER;

DROP TRIGGER command_events_append_only;
CREATE TRIGGER command_events_append_only
BEFORE UPDATE OF id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out,
    files_touched_count, lines_added, lines_deleted, started_at, ended_at, session_id,
    repo_id, program, delta_files, delta_lines_added, delta_lines_deleted, author_kind,
    captured_by, duration_approximate, key_fingerprint, head_hash, line_count
ON command_events
BEGIN
    SELECT RAISE(ABORT, 'command events are append-only');
END;

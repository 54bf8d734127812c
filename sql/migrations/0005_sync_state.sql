-- Central sync (issue 12): which key hashed each event, and what the server acknowledged.
--
-- DevTrace 0.2.0's sync_queue held a 'pending' row per event that nothing ever sent; it is
-- replaced by acknowledgement rows: an event or label with no row here is pending. A row
-- is written only after the server answered for it ('synced': accepted or a duplicate it
-- already had; 'rejected': refused with a reason, kept here and not sent again).
DROP TABLE sync_queue;

CREATE TABLE event_sync (
    event_id TEXT PRIMARY KEY REFERENCES command_events (id),
    status TEXT NOT NULL CHECK (status IN ('synced', 'rejected')),
    reason TEXT,
    at REAL NOT NULL
);

CREATE TABLE label_sync (
    label_id INTEGER PRIMARY KEY,              -- labels.id (no foreign key: undo may delete a label)
    status TEXT NOT NULL CHECK (status IN ('synced', 'rejected')),
    reason TEXT,
    at REAL NOT NULL
);

-- The fingerprint of the key that made command_hash, repo_id and session_id
-- (NULL: captured before fingerprints were recorded).
ALTER TABLE command_events ADD COLUMN key_fingerprint TEXT;

DROP TRIGGER command_events_append_only;
CREATE TRIGGER command_events_append_only
BEFORE UPDATE OF id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out,
    files_touched_count, lines_added, lines_deleted, started_at, ended_at, session_id,
    repo_id, program, delta_files, delta_lines_added, delta_lines_deleted, key_fingerprint
ON command_events
BEGIN
    SELECT RAISE(ABORT, 'command events are append-only');
END;

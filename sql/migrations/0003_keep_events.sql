-- Events are never deleted, not even through another connection that attaches the file
-- for writing: the store is the system of record.
CREATE TRIGGER command_events_never_deleted
BEFORE DELETE ON command_events
BEGIN
    SELECT RAISE(ABORT, 'command events are never deleted');
END;

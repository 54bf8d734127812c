-- The command line, redacted (devtrace/capture/redact.py), kept in this store only: sync
-- sends no text, the central schema has no column for it, and `command_text = "off"` keeps
-- it NULL. NULL also where the command was not found (exit 127) or the text was forgotten.
--
-- Events stay append-only: the text may be forgotten (set to NULL, `devtrace forget
-- --text`), never written after the event or changed.
ALTER TABLE command_events ADD COLUMN command_text TEXT;

CREATE TRIGGER command_events_text_only_forgotten
BEFORE UPDATE OF command_text ON command_events
WHEN NEW.command_text IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'command text is never written after the event, only forgotten');
END;

-- Trust: the file says it is a DevTrace store, and labels are deleted only by the undo.
--
-- application_id ("DTrc") marks the file as a DevTrace store in its header, so a foreign
-- SQLite file is recognised whatever its user_version says.
PRAGMA application_id = 1146384995;

-- A label is history: the one exception is the labeling notebook's undo of a label just
-- given (devtrace/store/label_undo.py). Only a connection that registered devtrace_undo_allows()
-- for that label can delete it; any other connection (a SQL tool, DuckDB attaching the file
-- for writing) fails, with "no such function" or this message.
CREATE TRIGGER labels_deleted_only_by_undo
BEFORE DELETE ON labels
BEGIN
    SELECT RAISE(ABORT, 'labels are never deleted, except by the undo of a label just given')
    WHERE NOT devtrace_undo_allows(OLD.id);
END;

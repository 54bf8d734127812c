"""Taking back a label that was just given (the labeling notebook's undo).

Labels are history: a label is never changed, and a newer one supersedes it.
Undo is the one exception, and a narrow one: it removes a human label only while it is
still the newest label of its event, so no later judgement and no history is rewritten.
"""

import os

from devtrace.errors import DevtraceError
from devtrace.store import open_store


def retract_label(label_id: int, path: str | os.PathLike | None = None) -> str:
    """Delete human label `label_id` if no label of its event came after it; returns the event id."""
    conn = open_store(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT event_id, source FROM labels WHERE id = ?", (label_id,)).fetchone()
            if row is None:
                raise DevtraceError(f"no label {label_id} in the store")
            event_id, source = row
            if source != "human":
                raise DevtraceError(f"label {label_id} is a {source} label: only human labels can be taken back")
            newer = conn.execute(
                "SELECT count(*) FROM labels WHERE event_id = ? AND id > ?", (event_id, label_id)
            ).fetchone()[0]
            if newer:
                raise DevtraceError(f"label {label_id} of {event_id} has been superseded: it is history now")
            if conn.execute("SELECT 1 FROM label_sync WHERE label_id = ?", (label_id,)).fetchone():
                raise DevtraceError(f"label {label_id} of {event_id} has been sent to the central server: "
                                    "give a new label instead")
            conn.execute("DELETE FROM labels WHERE id = ?", (label_id,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return event_id

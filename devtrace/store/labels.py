"""Labels: a person's (or a process's) 0-100 judgement of an event.

A label is never changed: a newer one supersedes it, and the latest label of an event is
the one that counts (see the `training_set` view); older ones stay as history. The one
deletion is the labeling notebook's undo of a label just given (`label_undo`). Standard
library only, one short transaction per label.
"""

import numbers
import os
import time

from devtrace.errors import DevtraceError
from devtrace.store import open_store
from devtrace.store.transaction import write_transaction

SOURCES = ("human", "pseudo")


def label(
    event_id: str,
    value: float,
    by: str | None = None,
    note: str | None = None,
    path: str | os.PathLike | None = None,
    source: str = "human",
) -> int:
    """Add a label to `event_id`; returns the new label's id."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 100:
        raise DevtraceError(f"a label is a number from 0 to 100 (got {value!r})")
    if source not in SOURCES:
        raise DevtraceError(f"label source must be 'human' or 'pseudo' (got {source!r})")
    conn = open_store(path)
    try:
        with write_transaction(conn):
            if conn.execute("SELECT 1 FROM command_events WHERE id = ?", (event_id,)).fetchone() is None:
                raise DevtraceError(f"no event {event_id!r} in the store (see `devtrace events`)")
            cursor = conn.execute(
                "INSERT INTO labels (event_id, value, source, labeled_by, note, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (event_id, float(value), source, by, note, time.time()),
            )
    finally:
        conn.close()
    return cursor.lastrowid

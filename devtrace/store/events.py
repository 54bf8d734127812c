"""Writing command events: one short transaction per event."""

import operator
import sqlite3

from devtrace.store.transaction import write_transaction

LOCAL_ONLY_COLUMNS = ("command_text",)
"""Columns that never leave the machine: not synced, exported only when asked for."""


def shared_columns(conn: sqlite3.Connection) -> list[str]:
    """The columns of command_events that may leave the machine (sync sends these)."""
    return [row[1] for row in conn.execute("PRAGMA table_info(command_events)") if row[1] not in LOCAL_ONLY_COLUMNS]


def insert_event(conn: sqlite3.Connection, event: dict, also=None, *, new_id=None) -> bool:
    """Insert the event (pending for `devtrace sync` until the server acknowledges it); False
    if it was there already. Ids follow devtrace.capture.event_ids: a live event's id is
    random, and on a collision it gets `new_id()` (updated in `event`) rather than being lost;
    without `new_id` the id names an agent's call, and a second insert of it is the same call
    recorded again (a hook and an import): nothing is inserted. `also(conn)`, if given, runs
    in the same transaction (a hook writer saves its session's git state)."""
    columns = ", ".join(event)
    marks = ", ".join("?" * len(event))
    for attempt in range(3):
        try:
            with write_transaction(conn):
                if also is not None:
                    also(conn)
                conn.execute(f"INSERT INTO command_events ({columns}) VALUES ({marks})", list(event.values()))
            return True
        except sqlite3.IntegrityError:
            if attempt == 2 or conn.execute("SELECT 1 FROM command_events WHERE id = ?", (event["id"],)).fetchone() is None:
                raise
            if new_id is None:
                return False
            event["id"] = new_id()
    return False


def insert_events(conn: sqlite3.Connection, events: list[dict], also=None) -> int:
    """Insert a batch in one transaction; an event whose id is stored already is skipped (ids
    that name a call or a history entry, see event_ids). Returns how many were new.
    `also(conn)`, if given, runs in the same transaction."""
    return insert_rows(conn, list(events[0]) if events else [], [list(event.values()) for event in events], also)


def insert_rows(conn: sqlite3.Connection, columns: list[str], rows: list, also=None) -> int:
    """`insert_events` for events given as rows of `columns`' values (an import builds millions).
    A column that is NULL in every row and defaults to NULL is left out of the INSERT: an
    imported history row has a dozen of them, and binding them costs a third of the insert."""
    if rows:
        defaults = {row[1]: row[4] for row in conn.execute("PRAGMA table_info(command_events)")}
        keep = [i for i, name in enumerate(columns)
                if defaults.get(name) is not None or any(row[i] is not None for row in rows)]
        if len(keep) < len(columns):
            pick = operator.itemgetter(*keep)
            columns, rows = [columns[i] for i in keep], [pick(row) for row in rows]
            if len(keep) == 1:
                rows = [(value,) for value in rows]
    with write_transaction(conn):
        before = conn.total_changes
        if rows:
            conn.executemany(f"INSERT OR IGNORE INTO command_events ({', '.join(columns)})"
                             f" VALUES ({', '.join('?' * len(columns))})", rows)
        added = conn.total_changes - before
        if also is not None:
            also(conn)
    return added

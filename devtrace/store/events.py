"""Writing command events: one short transaction per event."""

import os
import sqlite3

from devtrace.store.transaction import write_transaction

LOCAL_ONLY_COLUMNS = ("command_text",)
"""Columns that never leave the machine: not synced, exported only when asked for."""


def shared_columns(conn: sqlite3.Connection) -> list[str]:
    """The columns of command_events that may leave the machine (sync sends these)."""
    return [row[1] for row in conn.execute("PRAGMA table_info(command_events)") if row[1] not in LOCAL_ONLY_COLUMNS]


def new_event_id() -> str:
    return "evt_" + os.urandom(6).hex()


def insert_event(conn: sqlite3.Connection, event: dict, also=None) -> None:
    """Insert the event (pending for `devtrace sync` until the server acknowledges it). Ids
    are 48 random bits: on the rare collision the event gets a new id (updated in `event`)
    rather than being lost. `also(conn)`, if given, runs in the same transaction (a hook
    writer saves its session's git state)."""
    columns = ", ".join(event)
    marks = ", ".join("?" * len(event))
    for attempt in range(3):
        try:
            with write_transaction(conn):
                if also is not None:
                    also(conn)
                conn.execute(f"INSERT INTO command_events ({columns}) VALUES ({marks})", list(event.values()))
            return
        except sqlite3.IntegrityError:
            if attempt == 2 or conn.execute("SELECT 1 FROM command_events WHERE id = ?", (event["id"],)).fetchone() is None:
                raise
            event["id"] = new_event_id()

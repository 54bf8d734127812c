"""Writing command events: one short transaction per event."""

import os
import sqlite3

from devtrace.store.transaction import write_transaction


def new_event_id() -> str:
    return "evt_" + os.urandom(6).hex()


def insert_event(conn: sqlite3.Connection, event: dict) -> None:
    """Insert the event (pending for `devtrace sync` until the server acknowledges it). Ids
    are 48 random bits: on the rare collision the event gets a new id (updated in `event`)
    rather than being lost."""
    columns = ", ".join(event)
    marks = ", ".join("?" * len(event))
    for attempt in range(3):
        try:
            with write_transaction(conn):
                conn.execute(f"INSERT INTO command_events ({columns}) VALUES ({marks})", list(event.values()))
            return
        except sqlite3.IntegrityError:
            if attempt == 2 or conn.execute("SELECT 1 FROM command_events WHERE id = ?", (event["id"],)).fetchone() is None:
                raise
            event["id"] = new_event_id()

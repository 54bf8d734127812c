"""Writing command events: one short transaction per event, queued for sync."""

import os
import sqlite3


def new_event_id() -> str:
    return "evt_" + os.urandom(6).hex()


def insert_event(conn: sqlite3.Connection, event: dict) -> None:
    columns = ", ".join(event)
    marks = ", ".join("?" * len(event))
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"INSERT INTO command_events ({columns}) VALUES ({marks})", list(event.values()))
        conn.execute("INSERT INTO sync_queue (event_id) VALUES (?)", (event["id"],))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise

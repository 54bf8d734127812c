"""The store's health as capture sees it: SQLite's `PRAGMA quick_check` at most once an hour
per store, its verdict kept in `<store>/health` (`<unix time> ok`, or what is wrong). Capture
never writes into a store it knows is damaged. Standard library only, and light: `devtrace run`
reads it before every write."""

import os
import time

from devtrace import paths
from devtrace.store.connection import APPLICATION_ID, MARKED_FROM_VERSION, wal_deleted

EVERY_S = 3600.0


def check_health(directory: str) -> str | None:
    """What is wrong with the store's database, None if nothing is: PRAGMA quick_check at most
    once an hour per store, its verdict remembered in `health` in the store folder."""
    state = read_health(directory)
    if state is not None and time.time() - state[0] < EVERY_S:
        return None if state[1] == "ok" else state[1]
    import sqlite3

    db = os.path.join(directory, paths.DB_NAME)
    if not os.path.exists(db):
        return None
    try:
        conn = sqlite3.connect(db, timeout=0.05)
        try:
            mark = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            ours = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'command_events'").fetchone()
            if mark not in (0, APPLICATION_ID) or (mark == 0 and version >= MARKED_FROM_VERSION) or ours is None:
                return None  # not a DevTrace store: opening it refuses it, and nothing is written beside it
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
        verdict = "ok" if [r[0] for r in rows] == ["ok"] else (str(rows[0][0]).splitlines()[0] if rows else "no answer")
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc) or "busy" in str(exc) or wal_deleted(exc, db):
            return None  # another process writes to it, or holds its deleted log: look again next time
        verdict = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    write_health(directory, verdict)
    return None if verdict == "ok" else verdict


def read_health(directory: str) -> tuple[float, str] | None:
    """(when checked, "ok" or what is wrong) from the last quick check, None if none."""
    try:
        with open(os.path.join(directory, paths.HEALTH_FILE), encoding="utf-8") as f:
            when, _, verdict = f.read().strip().partition(" ")
        return float(when), verdict
    except (OSError, ValueError):
        return None


def write_health(directory: str, verdict: str) -> None:
    tmp = os.path.join(directory, f".{paths.HEALTH_FILE}.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{time.time():.0f} {verdict.replace(chr(10), ' ')}\n")
        os.replace(tmp, os.path.join(directory, paths.HEALTH_FILE))
    except OSError:
        pass


def damaged(directory: str) -> bool:
    state = read_health(directory)
    return state is not None and state[1] != "ok"

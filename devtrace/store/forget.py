"""Forgetting command text on request (`devtrace forget --text`): the events stay.

The text is overwritten where it lay: `secure_delete` zeroes the space it held in the
database file, and a checkpoint that truncates the WAL leaves no older copy of those pages
beside it.
"""

import sqlite3

from devtrace.store.transaction import write_transaction


def forget_text(conn: sqlite3.Connection, *, before: float | None = None, repo_ids: list[str] | None = None) -> int:
    """Set command_text to NULL on the events started before `before` (unix seconds) and in
    one of `repo_ids` (keyed repository ids), each if given; the number of events changed."""
    conditions = ["command_text IS NOT NULL"]
    params: list[float | str] = []
    if before is not None:
        conditions.append("executed_at < ?")
        params.append(before)
    if repo_ids is not None:
        conditions.append(f"repo_id IN ({', '.join('?' * len(repo_ids))})")
        params.extend(repo_ids)
    conn.execute("PRAGMA secure_delete = ON")
    with write_transaction(conn):
        changed = conn.execute(f"UPDATE command_events SET command_text = NULL WHERE {' AND '.join(conditions)}",
                               params).rowcount
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return changed

"""What the hook writers keep between commands (migrations 0004, 0007): Pre/Post pairs
waiting for their end (and what their event needs if the end never comes), the agent tool
calls already recorded, and each session's last git state per repository. Standard library
only."""

import json
import sqlite3

from devtrace.store.transaction import write_transaction

PENDING_MAX_AGE_S = 86400.0  # a Pre whose end never came (the agent was killed) is written, end unknown, after a day


def add_pending(conn: sqlite3.Connection, captured_by: str, session_id: str, call_key: str, started_at: float,
                command_hash: str | None = None, program: str | None = None, repo_id: str | None = None) -> None:
    with write_transaction(conn):
        _forget_old_marks(conn, started_at)
        conn.execute("INSERT OR IGNORE INTO hook_pending (captured_by, session_id, call_key, started_at, command_hash,"
                     " program, repo_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (captured_by, session_id, call_key, started_at, command_hash, program, repo_id))


class Orphan:
    """A start whose end never came: its call key, start, and what its event needs."""

    __slots__ = ("call_key", "started_at", "command_hash", "program", "repo_id")

    def __init__(self, call_key, started_at, command_hash, program, repo_id):
        self.call_key, self.started_at, self.command_hash = call_key, started_at, command_hash
        self.program, self.repo_id = program, repo_id


def orphans(conn: sqlite3.Connection, captured_by: str, session_id: str, before: float) -> list[Orphan]:
    """The session's starts older than `before` still waiting for their end (those that can
    become an event: recorded since migration 0007), oldest first."""
    rows = conn.execute(
        "SELECT call_key, started_at, command_hash, program, repo_id FROM hook_pending WHERE captured_by = ?"
        " AND session_id = ? AND started_at < ? AND command_hash IS NOT NULL ORDER BY started_at",
        (captured_by, session_id, before),
    ).fetchall()
    return [Orphan(*row) for row in rows]


def expired(conn: sqlite3.Connection, now: float) -> list[tuple[str, str, Orphan]]:
    """Starts of any session still waiting for their end PENDING_MAX_AGE_S after they started
    (the agent was killed, or its session never ended): (agent, session, the start)."""
    rows = conn.execute(
        "SELECT captured_by, session_id, call_key, started_at, command_hash, program, repo_id FROM hook_pending"
        " WHERE started_at < ? AND command_hash IS NOT NULL ORDER BY started_at", (now - PENDING_MAX_AGE_S,),
    ).fetchall()
    return [(row[0], row[1], Orphan(*row[2:])) for row in rows]


def _forget_old_marks(conn: sqlite3.Connection, now: float) -> None:
    """Drop the day-old rows that are no start to write (calls recorded, starts of before 0007);
    the day-old starts are written as events first (writer.expire_orphans)."""
    conn.execute("DELETE FROM hook_pending WHERE started_at < ? AND command_hash IS NULL", (now - PENDING_MAX_AGE_S,))


def drop_pending(conn: sqlite3.Connection, captured_by: str, session_id: str, call_key: str, started_at: float) -> None:
    """Forget one start (resolved as an orphan). Call inside a transaction."""
    conn.execute("DELETE FROM hook_pending WHERE captured_by = ? AND session_id = ? AND call_key = ? AND started_at = ?",
                 (captured_by, session_id, call_key, started_at))


def take_pending(conn: sqlite3.Connection, captured_by: str, session_id: str, call_key: str,
                 ended_at: float) -> float | None:
    """The start of this call nearest before its end, removed; None if there is none. (Where
    the key is the command's hash, an older start of the same command is one that never ran,
    denied at approval: it must not time this one; it expires with the day.)"""
    with write_transaction(conn):
        row = conn.execute(
            "SELECT started_at FROM hook_pending WHERE captured_by = ? AND session_id = ? AND call_key = ?"
            " ORDER BY started_at <= ? DESC, started_at DESC LIMIT 1",
            (captured_by, session_id, call_key, ended_at),
        ).fetchone()
        if row is None:
            return None
        conn.execute(
            "DELETE FROM hook_pending WHERE captured_by = ? AND session_id = ? AND call_key = ? AND started_at = ?",
            (captured_by, session_id, call_key, row[0]),
        )
    return row[0]


_RECORDED = "recorded:"  # call_key prefix: a tool call already recorded, kept a day like a start


def first_report(conn: sqlite3.Connection, captured_by: str, session_id: str, call_id: str, at: float) -> bool:
    """True the first time this agent tool call is reported (and remembers it), False after.
    Call inside the transaction that inserts its event."""
    key = _RECORDED + call_id
    _forget_old_marks(conn, at)
    if conn.execute("SELECT 1 FROM hook_pending WHERE captured_by = ? AND session_id = ? AND call_key = ?",
                    (captured_by, session_id, key)).fetchone():
        return False
    conn.execute("INSERT INTO hook_pending (captured_by, session_id, call_key, started_at) VALUES (?, ?, ?, ?)",
                 (captured_by, session_id, key, at))
    return True


def previous_state(conn: sqlite3.Connection, session_id: str, repo_id: str) -> tuple[str | None, dict] | None:
    """(HEAD, {path hash: (added, deleted)}) after the session's last command in the repo."""
    row = conn.execute(
        "SELECT head, files FROM hook_git_state WHERE session_id = ? AND repo_id = ?", (session_id, repo_id)
    ).fetchone()
    if row is None:
        return None
    return row[0], {path: tuple(counts) for path, counts in json.loads(row[1]).items()}


def save_state(conn: sqlite3.Connection, session_id: str, repo_id: str, head: str | None, files: dict,
               ended_at: float) -> None:
    """Keep this state unless a command that ended later already left its own (writers are
    detached, so two of one session may finish out of order). Call inside a transaction."""
    conn.execute(
        "INSERT INTO hook_git_state VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, repo_id) DO UPDATE SET"
        " head = excluded.head, files = excluded.files, ended_at = excluded.ended_at"
        " WHERE excluded.ended_at >= hook_git_state.ended_at",
        (session_id, repo_id, head, json.dumps(files), ended_at),
    )

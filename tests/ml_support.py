"""Shared ML test data: a small generated dataset and a store with a model trained on it.

The `dataset` and `model_store` fixtures built from these live in conftest.py.
"""

import json
import sqlite3
from pathlib import Path

from devtrace.store import create_store, insert_event
from tests.support import devtrace_here

ROWS = 3000


def cli(*args: str, cwd: Path, ok: bool = True):
    """`devtrace ARGS` in this process (`devtrace_here`), text out; `ok`: it must exit 0."""
    done = devtrace_here(*args, cwd=cwd, text=True)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def cli_json(*args: str, cwd: Path):
    return json.loads(cli(*args, "--json", cwd=cwd).stdout)


def add_events(store: Path, count: int, session: str = "ses_test", start: float = 1_767_225_600.0,
               **fields) -> list[str]:
    """`count` events of one session written by the store's own writer (`fields` replace
    columns of every one); returns their ids."""
    conn = create_store(store)
    ids = []
    try:
        for i in range(count):
            event_id = f"evt_{session[-4:]}{i:08x}"
            insert_event(conn, {
                "id": event_id, "agent_id": "codex", "executed_at": start + 60 * i,
                "command_hash": f"{i % 3:064x}", "duration_ms": 1000 + 500 * i, "exit_code": i % 4 == 1,
                "timed_out": 0, "files_touched_count": i % 5, "lines_added": 3 * i, "lines_deleted": i,
                "started_at": start + 60 * i, "ended_at": start + 60 * i + 1 + 0.5 * i, "session_id": session,
                "repo_id": "repo_test", "program": ["pytest", "git", "make"][i % 3], "delta_files": i % 2,
                "delta_lines_added": 2 * (i % 2), "delta_lines_deleted": 0, **fields,
            })
            ids.append(event_id)
    finally:
        conn.close()
    return ids


def score_row(store: Path, event_id: str) -> sqlite3.Row:
    conn = sqlite3.connect(store / "devtrace.db")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM command_events WHERE id = ?", (event_id,)).fetchone()
    finally:
        conn.close()

"""Hand-built stores for the analytics tests: real SQLite files written through the store's API."""

import itertools
from pathlib import Path

from devtrace.store import create_store, insert_event

DAY = 86_400.0
JAN_1 = 1_704_067_200.0  # 2024-01-01 00:00:00 UTC

_ids = itertools.count(1)


def event(at: float, **fields) -> dict:
    """One command_events row starting at unix time `at`; the defaults describe a clean,
    successful 100 ms `pytest` run by `claude` in session s1 of a git repo."""
    duration_ms = fields.pop("duration_ms", 100)
    row = {
        "id": f"evt_{next(_ids):06d}",
        "agent_id": "claude",
        "executed_at": at,
        "command_hash": "a" * 64,
        "duration_ms": duration_ms,
        "exit_code": 0,
        "timed_out": 0,
        "files_touched_count": 0,
        "lines_added": 0,
        "lines_deleted": 0,
        "started_at": at,
        "ended_at": at + duration_ms / 1000,
        "session_id": "s1",
        "repo_id": "repo_1",
        "program": "pytest",
        "delta_files": 0,
        "delta_lines_added": 0,
        "delta_lines_deleted": 0,
    }
    row.update(fields)
    return row


def no_git(**fields) -> dict:
    """The git columns of an event captured outside a git repository: unknown, so NULL."""
    unknown = dict.fromkeys(
        ["files_touched_count", "lines_added", "lines_deleted", "delta_files", "delta_lines_added",
         "delta_lines_deleted", "repo_id"]
    )
    return {**unknown, **fields}


def build_store(path: Path, events: list[dict], labels: list[tuple] = ()) -> Path:
    """A store at `path` holding `events` and label rows (event_id, value, source, by, note, created_at)."""
    conn = create_store(path)
    try:
        for row in events:
            insert_event(conn, row)
        for label in labels:
            conn.execute(
                "INSERT INTO labels (event_id, value, source, labeled_by, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                label,
            )
    finally:
        conn.close()
    return path

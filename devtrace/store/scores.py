"""Writing model scores onto events: the only columns of an event that may change.

Standard library only: the background scorer started by capture imports this module
before it knows whether there is anything to score.
"""

import sqlite3
import time
from collections.abc import Iterable

from devtrace.store.transaction import write_transaction

PENDING = "SELECT count(*) FROM command_events WHERE scored_at IS NULL"


def pending_count(conn: sqlite3.Connection) -> int:
    return conn.execute(PENDING).fetchone()[0]


def write_scores(conn: sqlite3.Connection, scores: Iterable[tuple], model_ref: str) -> int:
    """Record (event_id, predicted_productivity, top_feature, top_value) rows in one short
    transaction; returns how many events were updated."""
    now = time.time()
    rows = [(pred, feature, value, model_ref, now, event_id) for event_id, pred, feature, value in scores]
    with write_transaction(conn):
        cursor = conn.executemany(
            "UPDATE command_events SET predicted_productivity = ?, top_contribution_feature = ?,"
            " top_contribution_value = ?, model_ref = ?, scored_at = ? WHERE id = ?",
            rows,
        )
    return cursor.rowcount


def mark_for_rescoring(conn: sqlite3.Connection, model_ref: str) -> int:
    """Make every event scored by a model other than `model_ref` pending again (its old score
    stays until the scorer replaces it); returns how many."""
    with write_transaction(conn):
        cursor = conn.execute(
            "UPDATE command_events SET scored_at = NULL WHERE scored_at IS NOT NULL AND model_ref IS NOT ?",
            (model_ref,),
        )
    return cursor.rowcount

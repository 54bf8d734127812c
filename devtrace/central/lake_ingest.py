"""The lake's writes into the ingestion database: deletions for retention and erasure, the
audit log, and central scores waiting for the flush."""

import contextlib
import getpass
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from devtrace.central import lake


class Removed(NamedTuple):
    events: int
    labels: int


@contextlib.contextmanager
def transaction(db_url: str) -> Iterator[object]:
    """A DB-API cursor in one transaction on the ingestion database; `?` placeholders."""
    if lake.is_postgres(db_url):
        import psycopg

        with psycopg.connect(db_url) as pg, pg.transaction(), pg.cursor() as cur:
            yield _QmarkCursor(cur)
        return
    db = sqlite3.connect(lake.location(db_url).db_url, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield db.cursor()
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()


class _QmarkCursor:
    """psycopg with sqlite3's `?` placeholders, so each statement is written once."""

    def __init__(self, cursor):
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence = ()):
        return self._cursor.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows):
        return self._cursor.executemany(sql.replace("?", "%s"), rows)

    def fetchone(self):
        return self._cursor.fetchone()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


def delete_events(db_url: str, where: str, params: list, watermarks: tuple[int, int, int], *,
                  labels_by: str | None = None) -> Removed:
    """Delete the events matching `where` (with their labels and central scores, and the
    labels `labels_by` pushed) from the ingestion tables. Counts only what the lake did not
    hold yet (above its watermarks), so that lake + tail counts add up to distinct rows."""
    events_seq, labels_id, _ = watermarks
    events = f"SELECT id FROM command_events WHERE {where}"
    labels_where = f"event_id IN ({events})" + (" OR machine = ?" if labels_by is not None else "")
    labels_params = [*params, labels_by] if labels_by is not None else list(params)
    with transaction(db_url) as cur:
        new_events = cur.execute(f"SELECT count(*) FROM command_events WHERE ({where}) AND seq > ?",
                                 [*params, events_seq]).fetchone()[0]
        new_labels = cur.execute(f"SELECT count(*) FROM labels WHERE ({labels_where}) AND id > ?",
                                 [*labels_params, labels_id]).fetchone()[0]
        cur.execute(f"DELETE FROM event_scores WHERE event_id IN ({events})", params)
        cur.execute(f"DELETE FROM labels WHERE {labels_where}", labels_params)
        cur.execute(f"DELETE FROM command_events WHERE {where}", params)
    return Removed(int(new_events), int(new_labels))


def audit(db_url: str, action: str, target: str, actor: str, events: int, labels: int) -> None:
    with transaction(db_url) as cur:
        cur.execute("INSERT INTO audit_log (action, target, actor, at, events, labels) VALUES (?, ?, ?, ?, ?, ?)",
                    [action, target, actor, time.time(), events, labels])


def cli_actor() -> str:
    """Who runs an admin command from the shell: the OS user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def insert_scores(db_url: str, rows: list[tuple]) -> None:
    """(event_id, predicted_productivity, top_contribution_feature, top_contribution_value,
    model_ref, scored_at) rows, for the next flush to write into the lake."""
    with transaction(db_url) as cur:
        cur.executemany(
            "INSERT INTO event_scores (event_id, predicted_productivity, top_contribution_feature, "
            "top_contribution_value, model_ref, scored_at) VALUES (?, ?, ?, ?, ?, ?)", rows)

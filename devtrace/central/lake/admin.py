"""Keeping a lake in shape and governing what it holds: maintain, retention, erase.

Each runs under the one-lake-writer lock, like the flush. Retention and erasure remove rows
from the ingestion tables and from the lake if there is one (they never create one), and
record an audit row (who, what, when).
"""

import datetime as dt
import time
import uuid

import duckdb

from devtrace.analytics import lake_reader, object_storage
from devtrace.analytics.connection import one_line
from devtrace.analytics.lake_reader import has_tables, watermarks
from devtrace.analytics.sql_text import literal
from devtrace.central.lake import ingest_tables, writer
from devtrace.central.lake.flush import ensure_tables
from devtrace.central.lake.ingest_tables import Removed
from devtrace.central.lake.writer import LAKE, scalar
from devtrace.errors import DevtraceError

DEFAULT_KEEP_HOURS = 1.0
"""Snapshots younger than this, and the files they read, survive `maintain`: a reader holds
one snapshot for its connection's life."""


def maintain(db_url: str, *, keep_hours: float = DEFAULT_KEEP_HOURS) -> dict[str, int]:
    """Write rows inlined in the catalog to Parquet, merge small files, rewrite files with many
    deleted rows, expire snapshots older than keep_hours, delete the files no snapshot reads any
    more and the orphans of killed flushes.
    Returns how many data files the lake has before and after."""
    with writer.writer_lock(db_url):
        with writer.connect(db_url) as con:
            before = _data_files(con)
        older = f"now() - to_microseconds({int(keep_hours * 3_600_000_000)})"
        for call in (
            f"ducklake_flush_inlined_data('{LAKE}')",  # rows an older DevTrace inlined (see lake_reader)
            f"ducklake_merge_adjacent_files('{LAKE}')",
            f"ducklake_rewrite_data_files('{LAKE}')",
            f"ducklake_merge_adjacent_files('{LAKE}')",
            f"ducklake_expire_snapshots('{LAKE}', older_than => {older})",
            f"ducklake_cleanup_old_files('{LAKE}', older_than => {older})",
            f"ducklake_delete_orphaned_files('{LAKE}', older_than => {older})",
        ):
            _call(db_url, call)
        with writer.connect(db_url) as con:
            return {"files_before": before, "files_after": _data_files(con)}


def retention(db_url: str, days: int, *, actor: str, today: dt.date | None = None) -> Removed:
    """Drop every event of a UTC day more than `days` days before today (whole partitions of
    the lake), with its labels and central scores, from the lake and the ingestion tables."""
    if days < 1:
        raise DevtraceError(f"retention keeps at least 1 day, not {days}")
    cutoff = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=days)
    epoch = dt.datetime.combine(cutoff, dt.time(), dt.UTC).timestamp()
    with writer.writer_lock(db_url):
        has_lake = writer.lake_exists(db_url)
        if has_lake:
            _check_writable(db_url)
        flushed = _flushed(db_url) if has_lake else (0, 0, 0)
        tail = ingest_tables.delete_events(db_url, "executed_at < ?", [epoch], flushed,
                                           cutoff=("*", epoch, f"retention by {actor}"),
                                           sessions=("coalesce(ended_at, started_at, imported_at) < ?", [epoch]))
        in_lake = Removed(0, 0)
        if has_lake:
            with writer.connect(db_url) as con:
                in_lake = _delete(con, f"day < DATE '{cutoff.isoformat()}'")
            _purge(db_url, keep_hours=DEFAULT_KEEP_HOURS)
    removed = Removed(tail.events + in_lake.events, tail.labels + in_lake.labels)
    ingest_tables.audit(db_url, "retention", cutoff.isoformat(), actor, removed.events, removed.labels)
    return removed


def erase(db_url: str, machine: str, *, actor: str) -> Removed:
    """Remove one machine's events (and every label of them, the labels it pushed and its agent
    sessions' usage) from the ingestion tables and the lake, then rewrite the lake's files and
    expire every older snapshot, so that no Parquet file keeps them. Readers open during an
    erase reconnect."""
    with writer.writer_lock(db_url):
        has_lake = writer.lake_exists(db_url)
        if has_lake:
            _check_writable(db_url)
        flushed = _flushed(db_url) if has_lake else (0, 0, 0)
        tail = ingest_tables.delete_events(db_url, "machine = ?", [machine], flushed, labels_by=machine,
                                           sessions=("machine = ?", [machine]),
                                           cutoff=(machine, time.time(), f"erase by {actor}"))
        in_lake = Removed(0, 0)
        if has_lake:
            with writer.connect(db_url) as con:
                in_lake = _delete(con, f"machine = {literal(machine)}", labels_by=machine)
            _purge(db_url, keep_hours=0)
    removed = Removed(tail.events + in_lake.events, tail.labels + in_lake.labels)
    ingest_tables.audit(db_url, "erase", machine, actor, removed.events, removed.labels)
    return removed


def _check_writable(db_url: str) -> None:
    """Before retention or erasure changes anything, for a lake on object storage: that its
    credentials may write and delete there (one small object, written and then deleted as an
    orphan). Else, with the readers' credentials, DuckLake would drop the wholly erased files
    from the catalog (no write needed) and stop at the first rewrite or deletion, with the
    ingestion tables and the catalog changed and no audit row."""
    with writer.connect(db_url) as con:
        data_path = lake_reader.stored_data_path(con, db_url, writer.INGEST)
        if not object_storage.is_remote(data_path):
            return
        probe = f"{object_storage.prefix(data_path)}devtrace-write-check-{uuid.uuid4().hex}.parquet"
        try:
            con.execute(f"COPY (SELECT 1 AS written) TO {literal(probe)}")
        except duckdb.Error as exc:
            reason = object_storage.refused_write(exc) or one_line(exc)
            raise DevtraceError(f"the lake cannot be changed, nothing was: {reason}") from None
    _call(db_url, f"ducklake_delete_orphaned_files('{LAKE}', older_than => now())")


def _flushed(db_url: str) -> tuple[int, int, int]:
    with writer.connect(db_url) as con:
        return watermarks(con)


def _delete(con: duckdb.DuckDBPyConnection, events_where: str, *, labels_by: str | None = None) -> Removed:
    """Delete the matching events and their labels from the lake in one lake transaction."""
    if not has_tables(con):
        return Removed(0, 0)
    ensure_tables(con)  # a lake not flushed since an upgrade gets the newer columns (labels.event_machine)
    # a label names its event by (event_machine, event_id); one flushed before central schema 7
    # has no event_machine: its event was the pushing machine's
    labels_where = (f"EXISTS (SELECT 1 FROM {LAKE}.command_events AS e WHERE "
                    f"e.machine = coalesce(labels.event_machine, labels.machine) AND e.id = labels.event_id "
                    f"AND {events_where})")
    if labels_by is not None:
        labels_where += f" OR machine = {literal(labels_by)}"
    con.execute("BEGIN")
    labels = scalar(con, f"DELETE FROM {LAKE}.labels WHERE {labels_where}")
    events = scalar(con, f"DELETE FROM {LAKE}.command_events WHERE {events_where}")
    con.execute("COMMIT")
    return Removed(int(events), int(labels))


def _purge(db_url: str, *, keep_hours: float) -> None:
    """Rewrite files holding deleted rows, expire older snapshots, delete unread files."""
    if keep_hours <= 0:
        _call(db_url, f"ducklake_rewrite_data_files('{LAKE}', delete_threshold => 0)")
        _call(db_url, f"ducklake_expire_snapshots('{LAKE}', older_than => now())")
        _call(db_url, f"ducklake_cleanup_old_files('{LAKE}', cleanup_all => true)")
        return
    older = f"now() - to_microseconds({int(keep_hours * 3_600_000_000)})"
    _call(db_url, f"ducklake_expire_snapshots('{LAKE}', older_than => {older})")
    _call(db_url, f"ducklake_cleanup_old_files('{LAKE}', older_than => {older})")


def _data_files(con: duckdb.DuckDBPyConnection) -> int:
    if not has_tables(con):
        return 0
    return int(scalar(con, f"SELECT count(*) FROM ducklake_list_files('{LAKE}', 'command_events')"))


def _call(db_url: str, call: str) -> int:
    """CALL one of DuckLake's maintenance functions, on a connection of its own; how many rows
    (files, snapshots) it reports. (As `SELECT count(*) FROM function(...)` instead, DuckDB
    1.5.5 reported the work without committing it.)"""
    try:
        with writer.connect(db_url) as con:
            return con.execute(f"CALL {call}").to_arrow_table().num_rows
    except duckdb.Error as exc:
        reason = object_storage.refused_write(exc) or one_line(exc)
        raise DevtraceError(f"lake maintenance failed ({call.split('(')[0]}): {reason}") from None

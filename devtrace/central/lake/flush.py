"""The one flush job: move newly ingested events, labels and central scores into the lake.

It is the only lake writer (with maintain, retention and erase, under the same lock):
DuckLake's concurrent writers race (duckdb/ducklake#1094, #1283). What is new is decided by
watermarks kept in the lake itself (`lake.flushes`), written in the same DuckLake transaction
as the rows they cover, so a flush killed at any point either committed all of a chunk and
its watermark or nothing; the next run starts from the last committed watermark. Files a
killed flush had written but not committed are orphans, removed by `maintain`.

The ingestion side's `seq` (events) and `id` (labels, scores' `seq`) follow commit order (the
central server serialises its final INSERT), so "seq > watermark" finds everything new.
"""

import time
from typing import NamedTuple

import duckdb

from devtrace.analytics import object_storage
from devtrace.analytics.connection import one_line
from devtrace.analytics.lake_reader import has_tables, in_ingestion, ingested, watermarks
from devtrace.central.lake import writer
from devtrace.central.lake.writer import DAY_OF_EXECUTED_AT, INGEST, LAKE, scalar
from devtrace.errors import DevtraceError

CHUNK_EVENTS = 5_000_000
"""Events per lake transaction: bounds a flush's memory and the work a kill throws away."""


class FlushResult(NamedTuple):
    events: int
    labels: int
    scores: int
    seconds: float


def flush(db_url: str, *, data_path: str | None = None, chunk_events: int = CHUNK_EVENTS) -> FlushResult:
    """Flush everything ingested so far into the lake (creating it on the first run)."""
    started = time.perf_counter()
    with writer.writer_lock(db_url), writer.connect(db_url, data_path=data_path) as con:
        try:
            ensure_tables(con)
            events, labels, scores = _flush_all(con, db_url, chunk_events)
        except duckdb.Error as exc:
            reason = object_storage.refused_write(exc) or one_line(exc)
            raise DevtraceError(f"the flush failed and nothing of its last step was kept: {reason}") from None
    return FlushResult(events, labels, scores, time.perf_counter() - started)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the lake's tables from the ingestion tables' columns (one transaction), and add
    any column a later central migration added to the ingestion tables."""
    if not has_tables(con):
        con.execute("BEGIN")
        con.execute(f"CREATE TABLE {LAKE}.command_events AS "
                    f"SELECT * EXCLUDE (seq), {DAY_OF_EXECUTED_AT} AS day FROM {INGEST}.command_events WITH NO DATA")
        con.execute(f"ALTER TABLE {LAKE}.command_events SET PARTITIONED BY (day)")
        con.execute(f"CREATE TABLE {LAKE}.labels AS SELECT * FROM {INGEST}.labels WITH NO DATA")
        con.execute(f"CREATE TABLE {LAKE}.flushes (flushed_at DOUBLE, events_seq BIGINT, labels_id BIGINT, "
                    "scores_seq BIGINT, events BIGINT, labels BIGINT, scores BIGINT)")
        con.execute("COMMIT")
        return
    for table, skip in (("command_events", {"seq"}), ("labels", set())):
        have = _columns(con, LAKE, table)
        for name, type_ in _typed_columns(con, INGEST, table):
            if name not in have and name not in skip:
                con.execute(f'ALTER TABLE {LAKE}.{table} ADD COLUMN "{name}" {type_}')


def _flush_all(con: duckdb.DuckDBPyConnection, db_url: str, chunk_events: int) -> tuple[int, int, int]:
    totals = [0, 0, 0]
    # Upper bounds first, scores before events: a score row refers to an event that was
    # committed before it, so every event a score names is within the events' bound.
    scores_to = _max(con, db_url, "event_scores", "seq")
    labels_to = _max(con, db_url, "labels", "id")
    events_to = _max(con, db_url, "command_events", "seq")
    while True:
        events_from, labels_from, scores_from = watermarks(con)
        # Retention or erasure can remove the newest ingested rows: a bound never goes back.
        events_to, labels_to, scores_to = (max(events_to, events_from), max(labels_to, labels_from),
                                           max(scores_to, scores_from))
        if (events_from, labels_from, scores_from) == (events_to, labels_to, scores_to):
            return totals[0], totals[1], totals[2]
        chunk_to = min(events_to, events_from + chunk_events)
        last = chunk_to == events_to
        con.execute("BEGIN")
        events = _insert(con, db_url, "command_events", "seq", events_from, chunk_to,
                         f"* EXCLUDE (seq), {DAY_OF_EXECUTED_AT} AS day")
        labels = scores = 0
        if last:
            labels = _insert(con, db_url, "labels", "id", labels_from, labels_to, "*")
            scores = _apply_scores(con, db_url, scores_from, scores_to)
        con.execute(f"INSERT INTO {LAKE}.flushes VALUES (epoch(now()), ?, ?, ?, ?, ?, ?)",
                    [chunk_to, labels_to if last else labels_from, scores_to if last else scores_from,
                     events, labels, scores])
        con.execute("COMMIT")
        totals = [totals[0] + events, totals[1] + labels, totals[2] + scores]


def _insert(con: duckdb.DuckDBPyConnection, db_url: str, table: str, key: str, after: int, upto: int,
            columns: str) -> int:
    if upto <= after:
        return 0
    rows = ingested(db_url, INGEST, table, key, after, upto)
    return scalar(con, f"INSERT INTO {LAKE}.{table} BY NAME SELECT {columns} FROM ({rows})")


def _apply_scores(con: duckdb.DuckDBPyConnection, db_url: str, after: int, upto: int) -> int:
    """Write central scores into the lake's events (DuckLake writes new files and a delete
    file: the Parquet files a reader is scanning are never changed). A score names its event
    by (machine, event_id); one written before central schema 7 has no machine (its id's
    events all get it, as then)."""
    if upto <= after:
        return 0
    return scalar(
        con,
        f"""UPDATE {LAKE}.command_events AS e SET
                predicted_productivity = s.predicted_productivity,
                top_contribution_feature = s.top_contribution_feature,
                top_contribution_value = s.top_contribution_value,
                model_ref = s.model_ref,
                scored_at = s.scored_at
            FROM (
                SELECT * FROM ({ingested(db_url, INGEST, "event_scores", "seq", after, upto)})
                QUALIFY row_number() OVER (PARTITION BY machine, event_id ORDER BY seq DESC) = 1
            ) AS s
            WHERE e.id = s.event_id AND (e.machine = s.machine OR s.machine IS NULL)""")


def _max(con: duckdb.DuckDBPyConnection, db_url: str, table: str, key: str) -> int:
    newest = in_ingestion(db_url, INGEST, table, f"max({key}) AS newest")
    return int(scalar(con, f"SELECT coalesce(max(newest), 0) FROM ({newest})"))


def _columns(con: duckdb.DuckDBPyConnection, database: str, table: str) -> set[str]:
    return {name for name, _ in _typed_columns(con, database, table)}


def _typed_columns(con: duckdb.DuckDBPyConnection, database: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND table_name = ? "
        "ORDER BY column_index", [database, table]
    ).fetchall()

"""`devtrace ml score --central`: score the central store's unscored events with the
organisation's approved model, in batches of whole sessions (session features need a
session's earlier events), and write the scores back through the flush path: rows of the
ingestion database's `event_scores`, which the next flush writes into the lake's events in
its own transaction (never in place into Parquet files a reader is scanning).

An event counts as unscored when it has no score (from its machine or centrally) and no
central score row yet, so running this twice before a flush scores nothing twice. Each batch's
rows are written as ingestion writes events: on PostgreSQL under the ingest lock (so `seq`
follows commit order and the flush's watermark never passes a row committed late), and only
for events that have no central score row when the lock is held (two overlapping runs score
an event once). SQLite has one writer at a time, so its `seq` follows commit order anyway.
"""

import time

import duckdb
import polars as pl

from devtrace.analytics import connect, query
from devtrace.central import models
from devtrace.central.db import INGEST_LOCK, is_postgres, open_central
from devtrace.central.lake import writer
from devtrace.errors import DevtraceError
from devtrace.ml.features import build_features
from devtrace.ml.registry import Model
from devtrace.ml.scoring import score_columns

SCORES = "central_scores"
SCORE_COLUMNS = ("machine", "event_id", "predicted_productivity", "top_contribution_feature", "top_contribution_value",
                 "model_ref", "scored_at")
BATCH_EVENTS = 50_000
"""Unscored events per batch (their sessions' other events are read too)."""

# A score row names its event by (machine, event_id), the event's central identity.
NO_SCORE_ROW = f"""NOT EXISTS (SELECT 1 FROM {SCORES}.event_scores AS s
    WHERE s.event_id = events.id AND s.machine = events.machine)"""
UNSCORED = f"""
SELECT coalesce(session_id, id) AS unit, count(*) AS events FROM events
WHERE scored_at IS NULL AND {NO_SCORE_ROW}
GROUP BY unit ORDER BY unit
"""


def approved_model(db_url: str) -> Model:
    db = open_central(db_url, create=False)
    try:
        found = models.active(db, with_model=True)
    finally:
        db.close()
    if found is None:
        raise DevtraceError("the central store has no approved model yet (devtrace server models approve VERSION)")
    from devtrace.ml import xgb

    booster = xgb.load().Booster()
    booster.load_model(bytearray(found["model_json"].encode()))
    return Model(booster, {**found["metadata"], "version": found["version"]}, "")


def score_central(db_url: str, *, batch_events: int = BATCH_EVENTS, on_rows=None) -> int:
    """Score every unscored central event; returns how many were scored."""
    model = approved_model(db_url)
    version = model.metadata["version"]
    scored = 0
    with connect(central=db_url, locked=False) as con:  # it attaches the scores table
        # SQLite's scores are written through DuckDB: a second copy of SQLite in this process
        # (Python's) must not write the file DuckDB's copy has open. PostgreSQL's through psycopg.
        con.execute(writer.attach_ingestion(con, db_url, SCORES, read_only=is_postgres(db_url)))
        units = query(con, UNSCORED)
        batch: list[str] = []
        size = 0
        for unit, events in units.iter_rows():
            batch.append(unit)
            size += events
            if size >= batch_events:
                scored += _score_batch(con, db_url, model, version, batch)
                batch, size = [], 0
                if on_rows:
                    on_rows(scored)
        if batch:
            scored += _score_batch(con, db_url, model, version, batch)
            if on_rows:
                on_rows(scored)
    return scored


def _score_batch(con: duckdb.DuckDBPyConnection, db_url: str, model: Model, version: str, units: list[str]) -> int:
    con.execute("CREATE OR REPLACE TEMP TABLE scoring_units AS SELECT unnest(?::VARCHAR[]) AS unit", [units])
    frame = query(con, f"""
        SELECT *, scored_at IS NULL AND {NO_SCORE_ROW} AS to_score
        FROM events WHERE coalesce(session_id, id) IN (SELECT unit FROM scoring_units)
        ORDER BY executed_at, id""")
    wanted = frame.get_column("to_score")
    if not wanted.any():
        return 0
    scores = score_columns(model, build_features(frame.drop("to_score")).filter(wanted))
    batch = scores.with_columns(machine=frame.get_column("machine").filter(wanted),
                                event_id=frame.get_column("id").filter(wanted), model_ref=pl.lit(version),
                                scored_at=pl.lit(time.time()))
    if is_postgres(db_url):
        return _write_postgres(db_url, batch.select(SCORE_COLUMNS).rows())
    con.register("scores_batch", batch)
    try:
        return writer.scalar(con, f"INSERT INTO {SCORES}.event_scores ({', '.join(SCORE_COLUMNS)}) "
                                  f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores_batch AS b "
                                  f"WHERE NOT EXISTS (SELECT 1 FROM {SCORES}.event_scores AS s "
                                  "WHERE s.event_id = b.event_id AND s.machine = b.machine)")
    finally:
        con.unregister("scores_batch")


def _write_postgres(db_url: str, rows: list[tuple]) -> int:
    """Stage the rows (COPY), then insert those of events without a central score yet, under
    the ingest lock, in one transaction."""
    columns = ", ".join(SCORE_COLUMNS)
    db = open_central(db_url, create=False)
    try:
        with db.transaction() as tx:
            tx.execute(f"CREATE TEMP TABLE stage_scores ON COMMIT DROP AS SELECT {columns} FROM event_scores WITH NO DATA")
            with tx.cursor.copy(f"COPY stage_scores ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            tx.execute("SELECT pg_advisory_xact_lock(?)", (INGEST_LOCK,))
            tx.execute(f"INSERT INTO event_scores ({columns}) SELECT {columns} FROM stage_scores AS s "
                       "WHERE NOT EXISTS (SELECT 1 FROM event_scores AS e "
                       "WHERE e.event_id = s.event_id AND e.machine = s.machine)")
            return tx.rowcount
    finally:
        db.close()

"""`devtrace ml score --central`: score the central store's unscored events with the
organisation's approved model, in batches of whole sessions (session features need a
session's earlier events), and write the scores back through the flush path: rows of the
ingestion database's `event_scores`, which the next flush writes into the lake's events in
its own transaction (never in place into Parquet files a reader is scanning).

An event counts as unscored when it has no score (from its machine or centrally) and no
central score row yet, so running this twice before a flush scores nothing twice.
"""

import os
import time

import duckdb
import polars as pl

from devtrace.analytics import connect, query
from devtrace.analytics.central import CENTRAL_ALIAS
from devtrace.analytics.sql_text import literal
from devtrace.central import models
from devtrace.central.db import is_postgres, open_central
from devtrace.errors import DevtraceError
from devtrace.ml.features import build_features
from devtrace.ml.registry import Model
from devtrace.ml.scoring import score_columns

SCORES = "central_scores"
SCORE_COLUMNS = ("event_id", "predicted_productivity", "top_contribution_feature", "top_contribution_value",
                 "model_ref", "scored_at")
BATCH_EVENTS = 50_000
"""Unscored events per batch (their sessions' other events are read too)."""

UNSCORED = f"""
SELECT coalesce(session_id, id) AS unit, count(*) AS events FROM events
WHERE scored_at IS NULL AND id NOT IN (SELECT event_id FROM {CENTRAL_ALIAS}.event_scores)
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
    with connect(central=db_url, locked=False) as con:  # it attaches the scores table for writing
        # Scores are written through DuckDB too: a second copy of SQLite in this process
        # (Python's) must not write the file DuckDB's copy has open.
        target = db_url if is_postgres(db_url) else os.path.abspath(os.path.expanduser(db_url))
        con.execute(f"ATTACH {literal(target)} AS {SCORES} (TYPE {'postgres' if is_postgres(db_url) else 'sqlite'})")
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
        SELECT *, scored_at IS NULL AND id NOT IN (SELECT event_id FROM {CENTRAL_ALIAS}.event_scores) AS to_score
        FROM events WHERE coalesce(session_id, id) IN (SELECT unit FROM scoring_units)
        ORDER BY executed_at, id""")
    wanted = frame.get_column("to_score")
    if not wanted.any():
        return 0
    scores = score_columns(model, build_features(frame.drop("to_score")).filter(wanted))
    batch = scores.with_columns(event_id=frame.get_column("id").filter(wanted), model_ref=pl.lit(version),
                                scored_at=pl.lit(time.time()))
    con.register("scores_batch", batch)
    try:
        con.execute(f"INSERT INTO {SCORES}.event_scores ({', '.join(SCORE_COLUMNS)}) "
                    f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores_batch")
    finally:
        con.unregister("scores_batch")
    return len(batch)

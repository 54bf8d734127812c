"""The `outcomes` view over a frame of events rather than a store: how the synthetic generator
labels its sessions with the very definition the store's events are labelled with."""

import polars as pl

from devtrace.analytics.central import LOCAL_ONLY_TABLES
from devtrace.analytics.connection import OFFLINE_CONFIG
from devtrace.analytics.view_files import views

OUTCOME_VIEWS = ("events", "retry_loops", "next_green", "outcomes")

# Columns the views read that a frame of events may lack, with their store types.
_OPTIONAL = {
    "agent_id": pl.String, "timed_out": pl.Int64, "started_at": pl.Float64, "ended_at": pl.Float64,
    "scored_at": pl.Float64, "duration_approximate": pl.Int64, "author_kind": pl.String, "session_id": pl.String,
    "repo_id": pl.String, "program": pl.String, "delta_files": pl.Int64, "files_touched_count": pl.Int64,
    "head_hash": pl.String, "key_fingerprint": pl.String,
}


def frame_outcomes(frame: pl.DataFrame, now: float | None = None) -> pl.DataFrame:
    """The `outcomes` view's rows (in `frame`'s order) for a frame shaped like
    store.command_events (unix-second times). `now`: when the world ends (sets
    outcomes_now; default, as over a store, the last event)."""
    import duckdb

    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in _OPTIONAL.items() if name not in frame.columns]
    events = frame.with_columns(missing).with_columns(
        started_at=pl.coalesce("started_at", "executed_at"),
        ended_at=pl.coalesce("ended_at", pl.col("executed_at") + pl.col("duration_ms") / 1000),
        timed_out=pl.col("timed_out").fill_null(0),
        duration_approximate=pl.col("duration_approximate").fill_null(0),
    ).with_row_index("_order")
    con = duckdb.connect(config=OFFLINE_CONFIG)
    try:
        con.register("frame_events", events)
        con.execute("ATTACH ':memory:' AS store")
        # A table, not a view of the frame: the outcome views read it several times.
        con.execute("CREATE TABLE store.command_events AS SELECT * EXCLUDE (_order) FROM frame_events")
        con.execute("CREATE TABLE store.labels (id BIGINT, event_id VARCHAR, value DOUBLE, source VARCHAR, "
                    "labeled_by VARCHAR, note VARCHAR, created_at DOUBLE)")
        con.execute(LOCAL_ONLY_TABLES)  # what a frame has no part in: identities across keys, agent sessions
        for view in views():
            if view.name in OUTCOME_VIEWS:
                with open(view.file, encoding="utf-8") as f:
                    con.execute(f.read())
        if now is not None:
            con.execute(f"SET VARIABLE outcomes_now = {float(now)!r}")
        return con.sql(
            "SELECT o.* FROM outcomes AS o JOIN (SELECT id, _order FROM frame_events) AS f USING (id) ORDER BY f._order"
        ).pl()
    finally:
        con.close()

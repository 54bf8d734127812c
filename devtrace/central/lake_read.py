"""Reading a central lake: the lake plus the not-yet-flushed tail of the ingestion tables,
presented as `store.command_events` / `store.labels`, so the views in sql/views answer as
they are, and an event pushed a moment ago is already counted.

The lake is attached at one snapshot for the connection's life and the tail is every
ingested row above that snapshot's watermark, read afresh by each query: each event is
counted once even while flushes commit (a row flushed after the snapshot is still in the
ingestion table, and still above the pinned watermark). A reader open longer than the
snapshots `maintain` keeps (DEFAULT_KEEP) may find its files gone: reconnect.
"""

import duckdb

from devtrace.central import lake
from devtrace.central.lake import INGEST, LAKE
from devtrace.event_filter import FIRST_DAY_VARIABLE, LAST_DAY_VARIABLE


def connect(db_url: str) -> duckdb.DuckDBPyConnection:
    """DuckDB with `store.command_events` and `store.labels` over the lake and the tail (no
    views defined: the caller defines sql/views over them)."""
    con = lake.connect(db_url, pinned=True)
    try:
        present_store(con)
    except BaseException:
        con.close()
        raise
    return con


def present_store(con: duckdb.DuckDBPyConnection) -> None:
    events_seq, labels_id, _ = lake.watermarks(con)
    days = (f"day BETWEEN coalesce(getvariable('{FIRST_DAY_VARIABLE}'), DATE '0001-01-01') "
            f"AND coalesce(getvariable('{LAST_DAY_VARIABLE}'), DATE '9999-12-31')")
    con.execute("CREATE SCHEMA IF NOT EXISTS store")
    con.execute(f"""CREATE OR REPLACE VIEW store.command_events AS
        SELECT * EXCLUDE (day) FROM {LAKE}.command_events WHERE {days}
        UNION ALL BY NAME
        SELECT * EXCLUDE (seq) FROM {INGEST}.command_events WHERE seq > {int(events_seq)}""")
    con.execute(f"""CREATE OR REPLACE VIEW store.labels AS
        SELECT * FROM {LAKE}.labels
        UNION ALL BY NAME
        SELECT * FROM {INGEST}.labels WHERE id > {int(labels_id)}""")

"""Reading a central lake: the lake plus the not-yet-flushed tail of the ingestion tables,
presented as `store.command_events` / `store.labels`, so the views in sql/views answer as
they are, and an event pushed a moment ago is already counted.

The lake is attached at one snapshot for the connection's life and the tail is every
ingested row above that snapshot's watermark, read afresh by each query: each event is
counted once even while flushes commit (a row flushed after the snapshot is still in the
ingestion table, and still above the pinned watermark). A reader open longer than the
snapshots `maintain` keeps (lake_admin.DEFAULT_KEEP_HOURS) may find its files gone: reconnect.

`store.*` looks exactly as over the ingestion database alone (CONTRACT-central.md): `seq`
and `client_label_id` left out, `received_at` a TIMESTAMP.
"""

import duckdb

from devtrace import analytics
from devtrace.central import lake
from devtrace.central.lake import INGEST, LAKE
from devtrace.errors import DevtraceError
from devtrace.event_filter import FIRST_DAY_VARIABLE, LAST_DAY_VARIABLE

_RECEIVED_AT = "make_timestamp(CAST(received_at * 1e6 AS BIGINT)) AS received_at"


def connect(db_url: str) -> duckdb.DuckDBPyConnection:
    """An analytics connection over the lake and the tail: `store.*` and every view."""
    con = lake.connect(db_url, pinned=True)
    try:
        events_seq, labels_id, _ = lake.watermarks(con)
        days = (f"day BETWEEN coalesce(getvariable('{FIRST_DAY_VARIABLE}'), DATE '0001-01-01') "
                f"AND coalesce(getvariable('{LAST_DAY_VARIABLE}'), DATE '9999-12-31')")
        _present(con,
                 f"SELECT * EXCLUDE (day) FROM {LAKE}.command_events WHERE {days} UNION ALL BY NAME "
                 f"SELECT * EXCLUDE (seq) FROM {INGEST}.command_events WHERE seq > {int(events_seq)}",
                 f"SELECT * FROM {LAKE}.labels UNION ALL BY NAME "
                 f"SELECT * FROM {INGEST}.labels WHERE id > {int(labels_id)}")
    except BaseException:
        con.close()
        raise
    return con


def connect_ingestion(db_url: str) -> duckdb.DuckDBPyConnection:
    """The same `store.*` and views over the ingestion database alone (no lake needed)."""
    con = lake.connect(db_url, ingestion_only=True)
    try:
        _present(con, f"SELECT * EXCLUDE (seq) FROM {INGEST}.command_events", f"SELECT * FROM {INGEST}.labels")
    except BaseException:
        con.close()
        raise
    return con


def view_names() -> list[str]:
    return [v.name for v in analytics.views()]


def _present(con: duckdb.DuckDBPyConnection, events: str, labels: str) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS store")
    con.execute(f"CREATE OR REPLACE VIEW store.command_events AS SELECT * REPLACE ({_RECEIVED_AT}) FROM ({events})")
    con.execute(f"CREATE OR REPLACE VIEW store.labels AS "
                f"SELECT * EXCLUDE (client_label_id) REPLACE ({_RECEIVED_AT}) FROM ({labels})")
    for view in analytics.views():
        with open(view.file, encoding="utf-8") as f:
            text = f.read()
        try:
            con.execute(text)
        except duckdb.Error as exc:
            raise DevtraceError(f"view {view.name} ({view.file}) cannot be defined: {analytics.one_line(exc)}") from None

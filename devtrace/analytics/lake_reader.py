"""Reading a central lake: the lake plus the not-yet-flushed tail of the ingestion tables,
presented as `store.command_events` / `store.labels`, so the views in sql/views answer as
they are, and an event pushed a moment ago is already counted.

A lake is a DuckLake catalog plus Parquet data files (written by devtrace.central.lake.flush,
the one writer). The catalog lives beside the ingestion tables: in the same PostgreSQL
database (schema `devtrace_lake`), or for the embedded SQLite default in a SQLite file next to
the central database (`<db>-lake.sqlite`). Readers find the data path in the catalog.

The lake is attached at one snapshot for the connection's life, and the tail is every
ingested row above that snapshot's watermark, read afresh by each query: each event is
counted once even while flushes commit (a row flushed after the snapshot is still in the
ingestion table, and still above the pinned watermark). A reader open longer than the
snapshots `devtrace server maintain` keeps (an hour by default) may find its files gone: reconnect.

Whole UTC days outside the analytics day filter (sql_text.FIRST_DAY_VARIABLE/LAST_DAY_VARIABLE)
are skipped: the lake is partitioned by `day`, and a filter on the views' derived
`executed_at` alone could not prune files.
"""

import contextlib
import os
import sqlite3
import urllib.parse

import duckdb

from devtrace.analytics import object_storage
from devtrace.analytics.central import CENTRAL_ALIAS, events_view, is_postgres, labels_view, libpq_parts
from devtrace.analytics.sql_text import FIRST_DAY_VARIABLE, LAST_DAY_VARIABLE, literal

LAKE = "lake"
METADATA_SCHEMA = "devtrace_lake"


INLINING_ROW_LIMIT = 0
"""DuckLake would keep inserts of up to 10 rows in its catalog database instead of Parquet
(data inlining), where CHECKPOINT does not move them (duckdb/ducklake#1368): a small flush's
rows would never reach the data files, and an erase would have two places to look. The limit
is an ATTACH option, not stored in the lake, so the writer gives it on every attach; `maintain`
flushes rows an older DevTrace inlined (ducklake_flush_inlined_data)."""


def catalog_file(db_file: str) -> str:
    """The embedded default's DuckLake catalog: a SQLite file next to the central database."""
    return os.path.abspath(os.path.expanduser(db_file)) + "-lake.sqlite"


def catalog(db_url: str) -> str:
    """The DuckLake catalog of a central database, as ATTACH names it (a PostgreSQL one without
    its password, which the connection keeps in a secret: see central.postgres_steps)."""
    if is_postgres(db_url):
        return f"ducklake:postgres:{libpq_parts(db_url)[0]}"
    return f"ducklake:sqlite:{catalog_file(db_url)}"


def attach_options(db_url: str, *, read_only: bool, data_path: str | None = None, snapshot: int | None = None) -> str:
    options = [f"METADATA_SCHEMA '{METADATA_SCHEMA}'"] if is_postgres(db_url) else []
    if data_path is not None:
        options.append(f"DATA_PATH {literal(data_path)}")
    if read_only:
        options.append("READ_ONLY")
    else:  # every row the writer commits goes to Parquet, none is inlined into the catalog
        options.append(f"DATA_INLINING_ROW_LIMIT {INLINING_ROW_LIMIT}")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    return f"({', '.join(options)})" if options else ""


def attach(con: duckdb.DuckDBPyConnection, db_url: str, **options) -> None:
    con.execute(f"ATTACH {literal(catalog(db_url))} AS {LAKE} {attach_options(db_url, **options)}")


def exists(con: duckdb.DuckDBPyConnection, db_url: str) -> bool:
    """Whether the central database has a lake; `con` has it attached as CENTRAL_ALIAS (or,
    for the writer, under `alias`)."""
    if not is_postgres(db_url):
        return catalog_made(catalog_file(db_url))
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'ducklake_metadata'",
                       [METADATA_SCHEMA]).fetchone()[0] > 0


def catalog_made(file: str) -> bool:
    """Whether an embedded catalog file holds DuckLake's tables: a flush killed while DuckLake
    created them leaves the file without (empty, or with none), and the next flush creates them."""
    if not os.path.isfile(file):
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{urllib.parse.quote(file)}?mode=ro", uri=True)) as db:
            return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ducklake_metadata'"
                              ).fetchone() is not None
    except sqlite3.DatabaseError:
        return True  # not SQLite at all: attaching it fails with the reason, nothing is overwritten


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = 'flushes'",
                       [LAKE]).fetchone()[0] > 0


def watermarks(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    """(events seq, labels id, scores seq) flushed so far, in the connection's lake snapshot."""
    if not has_tables(con):
        return 0, 0, 0
    row = con.execute(f"SELECT coalesce(max(events_seq), 0), coalesce(max(labels_id), 0), coalesce(max(scores_seq), 0) "
                      f"FROM {LAKE}.flushes").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def present(con: duckdb.DuckDBPyConnection, db_url: str, extension_file) -> list[str] | None:
    """Make `store.*` read the lake and the tail, if the central database has a lake with
    flushed data, and return the files of the pinned snapshot (the only ones its readers must
    be let into once the connection is locked); None (store.* left on the ingestion tables)
    otherwise. `extension_file(name)` finds a DuckDB extension's file."""
    if not exists(con, db_url):
        return None
    con.execute(f"LOAD {literal(extension_file('ducklake'))}")
    object_storage.reach(con, stored_data_path(con, db_url, CENTRAL_ALIAS),
                         extension_file("httpfs"))  # before ATTACH, which wants httpfs for an s3:// lake
    attach(con, db_url, read_only=True)
    snapshot = con.execute(f"SELECT max(snapshot_id) FROM {LAKE}.snapshots()").fetchone()[0]
    con.execute(f"DETACH {LAKE}")
    attach(con, db_url, read_only=True, snapshot=snapshot)
    if not has_tables(con):
        con.execute(f"DETACH {LAKE}")
        return None
    events_seq, labels_id, _ = watermarks(con)
    tail_events = ingested(db_url, CENTRAL_ALIAS, "command_events", "seq", events_seq)
    tail_labels = ingested(db_url, CENTRAL_ALIAS, "labels", "id", labels_id)
    days = (f"day BETWEEN coalesce(getvariable('{FIRST_DAY_VARIABLE}'), DATE '0001-01-01') "
            f"AND coalesce(getvariable('{LAST_DAY_VARIABLE}'), DATE '9999-12-31')")
    con.execute(events_view(
        f"(SELECT * EXCLUDE (day), NULL::BIGINT AS seq FROM {LAKE}.command_events WHERE {days} UNION ALL BY NAME "
        f"{tail_events})"))
    con.execute(labels_view(
        f"(SELECT * FROM {LAKE}.labels UNION ALL BY NAME {tail_labels})"))
    return snapshot_files(con)


def snapshot_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every data and delete file of the attached lake's snapshot, by the exact path DuckDB
    opens. The lock lets a reader into these and nothing else: a folder or prefix would let
    `…/lake/../other/x` through, which DuckDB sends as written and which many S3-compatible
    servers resolve into another prefix, or another bucket."""
    tables = [name for name, in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY ALL", [LAKE]).fetchall()]
    found = set()
    for table in tables:
        for data_file, delete_file in con.execute(
                f"SELECT data_file, delete_file FROM ducklake_list_files({literal(LAKE)}, {literal(table)})").fetchall():
            found.update(f for f in (data_file, delete_file) if f)
    return sorted(found)


def stored_data_path(con: duckdb.DuckDBPyConnection, db_url: str, alias: str) -> str:
    """Where an existing lake keeps its Parquet files (a folder, or a URL such as s3://…), read
    from its catalog before the lake is attached (the ingestion database is, as `alias`)."""
    where = "key = 'data_path' AND scope IS NULL"
    if is_postgres(db_url):
        found = con.execute(f"SELECT value FROM {alias}.{METADATA_SCHEMA}.ducklake_metadata WHERE {where}").fetchone()
    else:
        found = con.execute(f"SELECT value FROM sqlite_scan(?, 'ducklake_metadata') WHERE {where}",
                            [catalog_file(db_url)]).fetchone()
    return found[0] if found else ""


def ingested(db_url: str, alias: str, table: str, key: str, after: int, upto: int | None = None) -> str:
    """SELECT of the rows of an ingestion table (attached as `alias`) with after < key <= upto."""
    where = f"{key} > {int(after)}" + ("" if upto is None else f" AND {key} <= {int(upto)}")
    return in_ingestion(db_url, alias, table, "*", where)


def in_ingestion(db_url: str, alias: str, table: str, columns: str, where: str = "true") -> str:
    """SELECT columns FROM table WHERE where, in the ingestion database attached as `alias`.
    PostgreSQL runs it as written, so a key range or a max() uses the key's index (the
    scanner reads a table by ctid ranges: every row of it, whatever the filter). The parts are
    DevTrace's own SQL, with no quote in them."""
    if is_postgres(db_url):
        return f"SELECT * FROM postgres_query('{alias}', 'SELECT {columns} FROM {table} WHERE {where}')"
    return f"SELECT {columns} FROM {alias}.{table} WHERE {where}"

"""The DuckLake tier under the central service, writer side: open the lake for the one writer
(flush, maintain, retention, erase) and hold the one-writer lock.

Where a lake lives and how it is read: devtrace.analytics.lake_reader. Every connection loads DuckDB's
ducklake, postgres and sqlite extensions from their pinned PyPI packages, with auto-install and
auto-load off: nothing is downloaded (and httpfs, with the credentials, for a lake on object
storage: devtrace.analytics.object_storage). The embedded default's catalog is a SQLite file (not a
DuckDB one, which one process at a time can open), in WAL mode so readers never block the
writer.

Tables in the lake (created by the first flush, from the ingestion tables' columns):
- `command_events`: every column of the ingestion table but `seq`, plus `day` (the UTC day of
  `executed_at`), the partition key: one folder of Parquet files per day.
- `labels`: every column of the ingestion table.
- `flushes`: one row per flush step; the largest `events_seq` / `labels_id` / `scores_seq` are
  the watermarks, committed in the same lake transaction as the rows they cover.
"""

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator

import duckdb

from devtrace.analytics import lake_reader, object_storage
from devtrace.analytics.central import postgres_steps
from devtrace.analytics.connection import OFFLINE_CONFIG, extension_file, one_line
from devtrace.analytics.lake_reader import LAKE, catalog_file
from devtrace.analytics.sql_text import literal
from devtrace.central.db import describe, is_postgres, open_central, owner_only, owner_only_files
from devtrace.errors import DevtraceError

INGEST = "ingest"
WRITER_LOCK_KEY = 8765013
"""PostgreSQL advisory lock held by the one lake writer (flush, maintain, retention, erase)."""

DAY_OF_EXECUTED_AT = "CAST(make_timestamp(CAST(executed_at * 1e6 AS BIGINT)) AS DATE)"
"""The UTC day of an event, exactly as sql/views/00_events.sql derives `executed_at`."""


def default_data_path(db_url: str) -> str | None:
    """Where the embedded default keeps its Parquet files unless told; PostgreSQL has none."""
    return None if is_postgres(db_url) else os.path.abspath(os.path.expanduser(db_url)) + "-lake"


def connect(db_url: str, *, data_path: str | None = None, pinned: bool = False) -> duckdb.DuckDBPyConnection:
    """DuckDB with the ingestion database read-only as `ingest` and the lake as `lake`, for
    writing (created if missing, under `data_path` or the embedded default's folder), or with
    pinned=True read-only at its latest snapshot (for checks and tests)."""
    open_central(db_url, create=False).close()  # a missing database fails here; an older one migrates
    con = duckdb.connect(config=OFFLINE_CONFIG)
    try:
        for name in ("ducklake", "postgres_scanner", "sqlite_scanner"):
            _run(con, f"LOAD {literal(extension_file(name))}", f"cannot load DuckDB's {name} extension")
        _run(con, attach_ingestion(con, db_url, INGEST, read_only=True), f"cannot open {describe(db_url)}")
        created = not lake_reader.exists(con, db_url)
        if pinned:
            if created:
                raise DevtraceError(f"{describe(db_url)} has no lake yet (run `devtrace server flush` first)")
            object_storage.reach(con, lake_reader.stored_data_path(con, db_url, INGEST), extension_file("httpfs"))
            _run(con, lambda: lake_reader.attach(con, db_url, read_only=True), "cannot open the lake")
            snapshot = scalar(con, f"SELECT max(snapshot_id) FROM {LAKE}.snapshots()")
            con.execute(f"DETACH {LAKE}")
            _run(con, lambda: lake_reader.attach(con, db_url, read_only=True, snapshot=snapshot), "cannot open the lake")
            return con
        path = data_path or (default_data_path(db_url) if created else None)
        if created and path is None:
            raise DevtraceError("the lake does not exist yet: give --lake-data (a folder, or a URL DuckDB can write, for its Parquet files)")
        if path is not None and "://" not in path:
            path = os.path.abspath(os.path.expanduser(path))
            os.makedirs(path, mode=0o700, exist_ok=True)
            owner_only(path)
        if not is_postgres(db_url):
            _wal(catalog_file(db_url))
            for suffix in ("", "-wal", "-shm"):
                owner_only(catalog_file(db_url) + suffix)
        object_storage.reach(con, path if created and path is not None else lake_reader.stored_data_path(con, db_url, INGEST),
                             extension_file("httpfs"))  # before ATTACH, which wants httpfs for an s3:// lake
        _run(con, lambda: lake_reader.attach(con, db_url, read_only=False, data_path=path), "cannot open the lake")
    except BaseException:
        con.close()
        raise
    return con


def attach_ingestion(con: duckdb.DuckDBPyConnection, db_url: str, alias: str, *, read_only: bool) -> str:
    """The ATTACH of the ingestion database as `alias` (a PostgreSQL password goes into the
    connection's secret first, never into a path DuckDB lists)."""
    if is_postgres(db_url):
        secret, conninfo = postgres_steps(db_url, literal)
        for statement, failure in secret:
            _run(con, statement, failure)
        return f"ATTACH {literal(conninfo)} AS {alias} (TYPE postgres{', READ_ONLY' if read_only else ''})"
    file = os.path.abspath(os.path.expanduser(db_url))
    return f"ATTACH {literal(file)} AS {alias} (TYPE sqlite{', READ_ONLY' if read_only else ''})"


def lake_exists(db_url: str) -> bool:
    """Whether the central database has a lake, without DuckDB (for the server's timer)."""
    if not is_postgres(db_url):
        return lake_reader.catalog_made(catalog_file(db_url))
    db = open_central(db_url, create=False)
    try:
        with db.transaction(write=False) as tx:
            return bool(tx.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                                   (lake_reader.METADATA_SCHEMA, "ducklake_metadata")))
    finally:
        db.close()


@contextlib.contextmanager
def writer_lock(db_url: str) -> Iterator[None]:
    """Hold the one-lake-writer lock: a PostgreSQL advisory lock, or for the embedded default
    an exclusive flock on a file beside the catalog. Both die with the process. Meanwhile
    every file the writer creates (catalog, Parquet files, their folders) is owner-only."""
    with owner_only_files(), _lock(db_url):
        yield


@contextlib.contextmanager
def _lock(db_url: str) -> Iterator[None]:
    if is_postgres(db_url):
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as pg:
            pg.execute("SELECT pg_advisory_lock(%s)", [WRITER_LOCK_KEY])
            try:
                yield
            finally:
                pg.execute("SELECT pg_advisory_unlock(%s)", [WRITER_LOCK_KEY])
        return
    with open(catalog_file(db_url) + ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _wal(file: str) -> None:
    """The SQLite catalog in WAL mode: readers, which DuckDB keeps in a read transaction while
    the lake stays attached, then never block the writer's commit."""
    with owner_only_files():
        db = sqlite3.connect(file)
        try:
            db.execute("PRAGMA journal_mode = WAL")
        finally:
            db.close()


def _run(con: duckdb.DuckDBPyConnection, statement, failure: str) -> None:
    try:
        con.execute(statement) if isinstance(statement, str) else statement()
    except duckdb.Error as exc:
        raise DevtraceError(f"{failure}: {one_line(exc)}") from None


def scalar(con: duckdb.DuckDBPyConnection, sql: str):
    """The one value a statement answers: an aggregate, or the count of rows a DML changed."""
    row = con.execute(sql).fetchone()
    if row is None:
        raise DevtraceError("DuckDB answered no row where one was expected")
    return row[0]


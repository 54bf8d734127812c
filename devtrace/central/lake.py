"""The DuckLake tier under the central service: where a central database's lake lives and how
to open it.

A lake is a DuckLake catalog plus Parquet data files. The catalog lives beside the ingestion
tables: in the same PostgreSQL database (schema `devtrace_lake`), or for the embedded SQLite
default in a SQLite file next to the central database (`<db>-lake.sqlite`; a SQLite catalog,
not a DuckDB one, so readers in other processes can open it while the one writer works). The
data files go under the data path given when the lake is created (a local folder, or any URL
DuckDB's filesystems read, such as s3://, where the user has those set up); readers find it in
the catalog.

Every connection loads DuckDB's ducklake, postgres and sqlite extensions from their pinned
PyPI packages, with auto-install and auto-load off: nothing is downloaded.

Tables in the lake (created by the first flush, from the ingestion tables' columns):
- `command_events`: every column of the ingestion table but `seq`, plus `day` (the UTC day of
  `executed_at`), the partition key: one folder of Parquet files per day.
- `labels`: every column of the ingestion table.
- `flushes`: one row per flush; the largest `events_seq` / `labels_id` / `scores_seq` are the
  watermarks, committed in the same lake transaction as the rows they cover.
"""

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

import duckdb

from devtrace.analytics import OFFLINE_CONFIG, extension_file, one_line
from devtrace.central.db import is_postgres, open_central
from devtrace.errors import DevtraceError

LAKE = "lake"
INGEST = "ingest"
METADATA_SCHEMA = "devtrace_lake"
WRITER_LOCK_KEY = 8765013
"""PostgreSQL advisory lock held by the one lake writer (flush, maintain, retention, erase)."""

DAY_OF_EXECUTED_AT = "CAST(make_timestamp(CAST(executed_at * 1e6 AS BIGINT)) AS DATE)"
"""The UTC day of an event, exactly as sql/views/00_events.sql derives `executed_at`."""


class Location(NamedTuple):
    db_url: str
    dialect: str  # 'sqlite' | 'postgresql'
    catalog: str  # what follows `ducklake:` in ATTACH
    default_data_path: str | None


def location(db_url: str) -> Location:
    if is_postgres(db_url):
        return Location(db_url, "postgresql", f"postgres:{db_url}", None)
    db = os.path.abspath(os.path.expanduser(db_url))
    return Location(db, "sqlite", f"sqlite:{catalog_file(db)}", db + "-lake")


def catalog_file(db_file: str) -> str:
    """The embedded default's DuckLake catalog: a SQLite file next to the central database."""
    return db_file + "-lake.sqlite"


def _attach_options(loc: Location, *, read_only: bool, data_path: str | None = None, snapshot: int | None = None) -> str:
    options = []
    if loc.dialect == "postgresql":
        options.append(f"METADATA_SCHEMA {_literal(METADATA_SCHEMA)}")
    if data_path is not None:
        options.append(f"DATA_PATH {_literal(data_path)}")
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    return f"({', '.join(options)})" if options else ""


def exists(loc: Location) -> bool:
    """Whether this central database has a lake (one was created by a flush)."""
    if loc.dialect == "sqlite":
        return os.path.isfile(catalog_file(loc.db_url))
    import psycopg

    with psycopg.connect(loc.db_url) as pg:
        row = pg.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                         [METADATA_SCHEMA, "ducklake_metadata"]).fetchone()
    return row is not None


def connect(db_url: str, *, write: bool = False, data_path: str | None = None,
            pinned: bool = False, ingestion_only: bool = False) -> duckdb.DuckDBPyConnection:
    """DuckDB with the lake attached as `lake` and the ingestion database read-only as `ingest`.

    write=True creates the lake if it is missing (under `data_path`, or the embedded default's
    folder). ingestion_only=True attaches no lake. pinned=True attaches the lake read-only at its latest snapshot, so that reads of
    the lake and of its watermark stay consistent for the connection's life."""
    loc = location(db_url)
    open_central(db_url, create=False).close()  # a missing database fails here; an older one migrates
    con = duckdb.connect(config=OFFLINE_CONFIG)
    try:
        for name in ("ducklake", "postgres_scanner", "sqlite_scanner"):
            _run(con, f"LOAD {_literal(extension_file(name))}", f"cannot load DuckDB's {name} extension")
        ingest_type = "postgres" if loc.dialect == "postgresql" else "sqlite"
        _run(con, f"ATTACH {_literal(loc.db_url)} AS {INGEST} (TYPE {ingest_type}, READ_ONLY)",
             "cannot open the central database")
        if ingestion_only:
            return con
        if write:
            created = not exists(loc)
            if created and data_path is None and loc.default_data_path is None:
                raise DevtraceError("the lake does not exist yet: give --lake-data (a folder or URL for its Parquet files)")
            path = data_path or (loc.default_data_path if created else None)
            if loc.dialect == "sqlite":
                _wal(catalog_file(loc.db_url))
            if path is not None and "://" not in path:
                path = os.path.abspath(os.path.expanduser(path))
                os.makedirs(path, exist_ok=True)
            _run(con, f"ATTACH {_literal('ducklake:' + loc.catalog)} AS {LAKE} {_attach_options(loc, read_only=False, data_path=path)}",
                 "cannot open the lake")
        else:
            if not exists(loc):
                raise DevtraceError(f"{loc.db_url} has no lake yet (run `devtrace server flush --db ...` first)")
            _run(con, f"ATTACH {_literal('ducklake:' + loc.catalog)} AS {LAKE} {_attach_options(loc, read_only=True)}",
                 "cannot open the lake")
            if pinned:
                snapshot = con.execute(f"SELECT max(snapshot_id) FROM {LAKE}.snapshots()").fetchone()[0]
                con.execute(f"DETACH {LAKE}")
                _run(con, f"ATTACH {_literal('ducklake:' + loc.catalog)} AS {LAKE} "
                          f"{_attach_options(loc, read_only=True, snapshot=snapshot)}", "cannot open the lake")
    except BaseException:
        con.close()
        raise
    return con


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = 'flushes'", [LAKE]
    ).fetchone()[0] > 0


def watermarks(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    """(events seq, labels id, scores seq) flushed so far, in the connection's lake snapshot."""
    if not has_tables(con):
        return 0, 0, 0
    row = con.execute(
        f"SELECT coalesce(max(events_seq), 0), coalesce(max(labels_id), 0), coalesce(max(scores_seq), 0) FROM {LAKE}.flushes"
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


@contextlib.contextmanager
def writer_lock(db_url: str) -> Iterator[None]:
    """Hold the one-lake-writer lock: a PostgreSQL advisory lock, or for the embedded default
    an exclusive flock on a file beside the catalog. Both die with the process."""
    loc = location(db_url)
    if loc.dialect == "postgresql":
        import psycopg

        with psycopg.connect(loc.db_url, autocommit=True) as pg:
            pg.execute("SELECT pg_advisory_lock(%s)", [WRITER_LOCK_KEY])
            try:
                yield
            finally:
                pg.execute("SELECT pg_advisory_unlock(%s)", [WRITER_LOCK_KEY])
        return
    with open(catalog_file(loc.db_url) + ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _wal(file: str) -> None:
    """The SQLite catalog in WAL mode: readers, which DuckDB keeps in a read transaction while
    the lake stays attached, then never block the writer's commit."""
    db = sqlite3.connect(file)
    try:
        db.execute("PRAGMA journal_mode = WAL")
    finally:
        db.close()


def _run(con: duckdb.DuckDBPyConnection, statement: str, failure: str) -> None:
    try:
        con.execute(statement)
    except duckdb.Error as exc:
        raise DevtraceError(f"{failure}: {one_line(exc)}") from None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"

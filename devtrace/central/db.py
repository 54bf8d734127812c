"""The central database: a SQLite file (the embedded default) or PostgreSQL (psycopg 3).

Both run the same migrations (sql/central/) and the same SQL, written with `?` placeholders
(turned into `%s` for psycopg). `open_central(url)` migrates and returns a backend whose
`transaction()` yields a `Tx` with `execute`, `executemany` and `rows`.
"""

import os
import queue
import re
import sqlite3
import threading
import time
from contextlib import contextmanager

from devtrace.errors import DevtraceError
from devtrace.store.migrations import migration_files

SERIAL = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}
INGEST_LOCK = 8765001
"""PostgreSQL advisory lock held by the final INSERT of every ingest batch until it commits,
so `command_events.seq` and `labels.id` follow commit order (see CONTRACT-central.md)."""
POOL_SIZE = 8


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def open_central(url: str, *, create: bool = True):
    """The central database at `url`, migrated to the latest schema."""
    if not url:
        raise DevtraceError("no central database given (--db FILE or --db postgresql://...)")
    db = PostgresCentral(url) if is_postgres(url) else SQLiteCentral(url, create=create)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


class Tx:
    """One transaction: `execute` returns every row (or [] for statements without rows)."""

    def __init__(self, cursor, dialect: str):
        self.cursor = cursor
        self.dialect = dialect
        self.rowcount = 0

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params=()) -> list[tuple]:
        self.cursor.execute(self._sql(sql), params)
        self.rowcount = self.cursor.rowcount
        return self.cursor.fetchall() if self.cursor.description else []

    def executemany(self, sql: str, rows) -> None:
        self.cursor.executemany(self._sql(sql), rows)


class SQLiteCentral:
    dialect = "sqlite"

    def __init__(self, file: str, *, create: bool):
        self.url = self.file = os.path.abspath(os.path.expanduser(file))
        if os.path.isdir(self.file):
            raise DevtraceError(f"{self.file} is a folder; the central SQLite database is a file")
        if not create and not os.path.isfile(self.file):
            raise DevtraceError(f"no central database at {self.file}")
        folder = os.path.dirname(self.file)
        if not os.path.isdir(folder):
            raise DevtraceError(f"cannot create the central database: {folder} does not exist")
        self._local = threading.local()
        self._write_lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.file, timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise DevtraceError(f"cannot open the central database {self.file}: {exc}") from None
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self, write: bool = True):
        conn = self._conn()
        lock = self._write_lock if write else _NoLock()
        with lock:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(conn.cursor(), self.dialect)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class PostgresCentral:
    dialect = "postgresql"

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError as exc:
            raise DevtraceError(f"a PostgreSQL central database needs psycopg, which cannot be imported ({exc}); "
                                "pip install 'devtrace[server]'") from None
        self.psycopg = psycopg
        self.url = url
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(POOL_SIZE)

    def _new_conn(self):
        try:
            return self.psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self.psycopg.Error as exc:
            raise DevtraceError(f"cannot connect to {describe(self.url)}: {_first_line(exc)}") from None

    @contextmanager
    def transaction(self, write: bool = True):
        self._slots.acquire()
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._new_conn()
            healthy = True
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    yield Tx(cursor, self.dialect)
            except self.psycopg.OperationalError:
                healthy = False
                raise
            except BaseException:
                healthy = not conn.closed
                raise
            finally:
                if healthy and not conn.closed:
                    self._idle.put(conn)
                else:
                    conn.close()
        finally:
            self._slots.release()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def migrate(db) -> None:
    """Apply every migration not yet applied, all in one transaction, and make sure the
    organisation has a hash key."""
    files = migration_files("central")
    with db.transaction() as tx:
        if db.dialect == "postgresql":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (INGEST_LOCK + 1,))  # one migrator at a time
        tx.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
        current = tx.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0]
        if current > files[-1][0]:
            raise DevtraceError(f"{describe(db.url)} was written by a newer DevTrace (central schema {current}, "
                                f"this one knows {files[-1][0]}); upgrade DevTrace")
        for version, name, file in files:
            if version <= current:
                continue
            with open(file, encoding="utf-8") as f:
                script = f.read().replace("@SERIAL@", SERIAL[db.dialect])
            for statement in _statements(script):
                tx.execute(statement)
            tx.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                       (version, name, time.time()))
        if not tx.execute("SELECT 1 FROM hash_keys"):
            from devtrace.central.keys import new_hash_key

            key, fingerprint = new_hash_key()
            tx.execute("INSERT INTO hash_keys (fingerprint, hash_key, created_at) VALUES (?, ?, ?)",
                       (fingerprint, key, time.time()))


def _statements(script: str) -> list[str]:
    """Statements of a migration file: split on `;` at line ends, comments dropped."""
    text = "\n".join(line.split("--", 1)[0].rstrip() for line in script.splitlines())
    return [part.strip() for part in re.split(r";\s*$", text, flags=re.M) if part.strip()]

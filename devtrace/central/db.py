"""The central database: a SQLite file (the embedded default) or PostgreSQL (psycopg 3 and
psycopg_pool).

Both run the same migrations (sql/central/) and the same SQL, written with `?` placeholders:
the one parameter style of DevTrace's central SQL, which `placeholders` turns into psycopg's
`%s` by its tokens (a `?` or `%` inside a string literal, a quoted name or a comment stays as
it is). `open_central(url)` migrates and returns a backend whose `transaction()` yields a `Tx`
with `execute`, `executemany` and `rows`.

A database that cannot be reached (no connection within POOL_WAIT_SECONDS, a connection lost
mid-transaction, SQLite's "database is locked" or a full disk) raises `Unavailable`: the server
answers 503 and the client retries. Any other failure is a bug, not a reason to retry.
"""

import functools
import os
import re
import sqlite3
import threading
import time
from contextlib import contextmanager

from devtrace.errors import DevtraceError
from devtrace.store.migrations import migration_files, statements

SERIAL = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}
INGEST_LOCK = 8765001
"""PostgreSQL advisory lock held by the final INSERT of every ingest batch (and of every
central score batch) until it commits, so `command_events.seq`, `labels.id` and
`event_scores.seq` follow commit order (see CONTRACT-central.md)."""
POOL_SIZE = 8
POOL_WAIT_SECONDS = 5.0
"""How long a request waits for a PostgreSQL connection before it is answered 503."""
CONNECT_TIMEOUT_SECONDS = 5
FRESH_SECONDS = 2.0
"""A pooled PostgreSQL connection given back this recently is handed out without a check (a
round trip): one that the database dropped meanwhile fails its request with 503, which the
client retries, and the pool replaces it."""


class Unavailable(DevtraceError):
    """The central database cannot be reached or cannot take the write now; retry later.
    Its sentence names the database (for the command line), never sent to an HTTP caller."""


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
        return placeholders(sql) if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params=()) -> list[tuple]:
        self.cursor.execute(self._sql(sql), params)
        self.rowcount = self.cursor.rowcount
        return self.cursor.fetchall() if self.cursor.description else []

    def executemany(self, sql: str, rows) -> None:
        self.cursor.executemany(self._sql(sql), rows)


_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\?|%""", re.S)


@functools.lru_cache(maxsize=256)
def placeholders(sql: str) -> str:
    """DevTrace's `?` placeholders as psycopg's `%s`, by the SQL's tokens: a `?` inside a
    string literal, a quoted name or a comment is text, and a literal `%` is written `%%`."""

    def token(match: re.Match) -> str:
        text = match.group(0)
        if text == "?":
            return "%s"
        return text.replace("%", "%%")

    return _TOKENS.sub(token, sql)


_UNAVAILABLE_SQLITE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN",
                       "SQLITE_READONLY")


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
                with owner_only_files():
                    conn = sqlite3.connect(self.file, timeout=30, isolation_level=None)
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise Unavailable(f"cannot open the central database {self.file}: {exc}") from None
            self._local.conn = conn
            for file in (self.file, self.file + "-wal", self.file + "-shm"):
                owner_only(file)  # made by an older DevTrace with the default umask
        return conn

    @contextmanager
    def transaction(self, write: bool = True):
        conn = self._conn()
        lock = self._write_lock if write else _NoLock()
        try:
            with lock:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield Tx(conn.cursor(), self.dialect)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if (getattr(exc, "sqlite_errorname", "") or "").startswith(_UNAVAILABLE_SQLITE):
                raise Unavailable(f"the central database {self.file} cannot be written now: {exc}") from exc
            raise

    def query(self, sql: str, params=()) -> list[tuple]:
        """The rows of one read statement."""
        with self.transaction(write=False) as tx:
            return tx.execute(sql, params)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


@contextmanager
def owner_only_files():
    """Files created meanwhile (SQLite's database, -wal and -shm) are 0600: they hold the
    organisation's hash key, token hashes and every event. (The umask is per process: the
    central service and its jobs create nothing else that should be readable by others.)"""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def owner_only(path: str) -> None:
    """chmod a file 0600 (a folder 0700) that others may read, if it is there and ours."""
    try:
        mode = os.stat(path).st_mode
        if mode & 0o077:
            os.chmod(path, 0o700 if os.path.isdir(path) else 0o600)
    except (FileNotFoundError, PermissionError):
        pass


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
            import psycopg_pool
        except ImportError as exc:
            raise DevtraceError(f"a PostgreSQL central database needs psycopg and psycopg_pool, which cannot be "
                                f"imported ({exc}); pip install 'devtrace[server]'") from None
        self.psycopg = psycopg
        self.url = url
        try:  # a database that is not there fails now, in one sentence that says why
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS).close()
        except psycopg.Error as exc:
            raise Unavailable(f"cannot connect to {describe(url)}: {_first_line(exc)}") from None
        self._timeout = psycopg_pool.PoolTimeout
        self.pool = psycopg_pool.ConnectionPool(
            url, connection_class=_pooled_connection_class(), min_size=1, max_size=POOL_SIZE,
            timeout=POOL_WAIT_SECONDS, name="devtrace-central", open=True,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
            check=_check_unless_fresh, reset=_given_back)

    @contextmanager
    def transaction(self, write: bool = True):
        with self._unavailable(), self.pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield Tx(cursor, self.dialect)

    def query(self, sql: str, params=()) -> list[tuple]:
        """The rows of one read statement, outside a transaction (one round trip)."""
        with self._unavailable(), self.pool.connection() as conn, conn.cursor() as cursor:
            return Tx(cursor, self.dialect).execute(sql, params)

    @contextmanager
    def _unavailable(self):
        try:
            yield
        except self._timeout as exc:
            raise Unavailable(f"no connection to {describe(self.url)} within {POOL_WAIT_SECONDS:g} s") from exc
        except self.psycopg.OperationalError as exc:
            raise Unavailable(f"{describe(self.url)}: {_first_line(exc)}") from exc

    def close(self) -> None:
        self.pool.close()


@functools.cache
def _pooled_connection_class():
    import psycopg

    class PooledConnection(psycopg.Connection):
        given_back_at = 0.0  # time.monotonic() when the pool last had it back
        stage_ready = False  # ingest's temporary stage table exists on it (devtrace.central.ingest)
        stage_types: list[str] = []  # and its columns' types, for a binary COPY

    return PooledConnection


def _given_back(conn) -> None:
    conn.given_back_at = time.monotonic()


def _check_unless_fresh(conn) -> None:
    if time.monotonic() - conn.given_back_at > FRESH_SECONDS:
        import psycopg_pool

        psycopg_pool.ConnectionPool.check_connection(conn)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _central_migrations(dialect: str) -> list[tuple[int, str, str]]:
    """sql/central's migrations for one dialect: `NNNN_name.sql` for both, and
    `NNNN_name.sqlite.sql` / `NNNN_name.postgresql.sql` where they must differ (SQLite cannot
    drop a constraint, PostgreSQL can)."""
    found = []
    for version, name, file in migration_files("central"):
        base, _, only = name.rpartition(".")
        if not base:
            found.append((version, name, file))
        elif only == dialect:
            found.append((version, base, file))
    return found


def migrate(db) -> None:
    """Apply every migration not yet applied, all in one transaction, and make sure the
    organisation has a hash key."""
    files = _central_migrations(db.dialect)
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
            for statement in statements(script):
                tx.execute(statement)
            tx.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                       (version, name, time.time()))
        if not tx.execute("SELECT 1 FROM hash_keys"):
            from devtrace.central.keys import new_hash_key

            key, fingerprint = new_hash_key()
            tx.execute("INSERT INTO hash_keys (fingerprint, hash_key, created_at) VALUES (?, ?, ?)",
                       (fingerprint, key, time.time()))

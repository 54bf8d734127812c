"""Schema migrations: numbered SQL files in sql/migrations, applied in one transaction.

`PRAGMA user_version` holds the schema version so the common case (an up-to-date store)
costs one header read; `schema_migrations` records what was applied and when.
"""

import os
import sqlite3
import time

from devtrace import paths
from devtrace.store.errors import StoreError


def migration_files(kind: str = "migrations") -> list[tuple[int, str, str]]:
    """(number, name, file) of the `NNNN_name.sql` files in sql/<kind>, in order: the local
    store's migrations, or the central database's (`central`)."""
    folder = os.path.join(paths.sql_dir(), kind)
    found = []
    for name in sorted(os.listdir(folder)):
        number, _, rest = name.partition("_")
        if len(number) == 4 and number.isdigit() and rest.endswith(".sql"):
            found.append((int(number), rest.removesuffix(".sql"), os.path.join(folder, name)))
    return found


def latest_version() -> int:
    return migration_files()[-1][0]


def statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (triggers included)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    leftover = [line for line in buf.splitlines() if line.strip() and not line.strip().startswith("--")]
    if leftover:
        raise ValueError(f"incomplete SQL statement: {leftover[0][:80]}")
    return out


def upgrade(conn: sqlite3.Connection, db: str) -> None:
    """Bring the store to the latest schema, or refuse a file that is not a DevTrace store."""
    latest = latest_version()
    _check(conn, db, latest)
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = _check(conn, db, latest)  # another process may have migrated meanwhile
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        for version, name, file in migration_files():
            if version <= current:
                continue
            with open(file, encoding="utf-8") as f:
                script = f.read()
            for statement in statements(script):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, time.time()),
            )
        conn.execute(f"PRAGMA user_version = {latest}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        raise StoreError(f"{db} could not be migrated and was left as it was ({exc})") from None
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("PRAGMA journal_mode = WAL")  # only now: a refused file keeps its journal mode


def _check(conn: sqlite3.Connection, db: str, latest: int) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > latest:
        raise StoreError(
            f"{db} was written by a newer DevTrace (schema {version}, this one knows {latest}); "
            "upgrade DevTrace to read it"
        )
    if version < latest:
        # An older store has the tables of its version; a new file has none. Anything else,
        # even a file whose user_version looks like ours, belongs to someone else.
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        ours = {"command_events", "schema_migrations"} if version else {"command_events"}
        if (tables or version) and not ours <= tables:
            raise StoreError(f"{db} is a SQLite database but not a DevTrace store")
    return version

"""`devtrace doctor`'s look at a store: each check says what it found and what to do.

Nothing here writes: the store is only read, never migrated, so a doctor can look at a store
it may not write to, or one a newer DevTrace wrote.
"""

import os
import sqlite3
import stat
from typing import NamedTuple

from devtrace import paths
from devtrace.settings import load as load_settings
from devtrace.store import migrations
from devtrace.store.connection import APPLICATION_ID, MARKED_FROM_VERSION, WAL_DELETED, holds_hashed_events, wal_deleted
from devtrace.store.errors import StoreError
from devtrace.store.key import key_file, read_key
from devtrace.store.reading import open_read_only

OK, NOTE, PROBLEM = "ok", "note", "problem"


class Check(NamedTuple):
    name: str
    status: str  # ok, note (worth knowing, nothing wrong) or problem
    detail: str
    action: str = ""


def store_checks(path: str | os.PathLike | None = None) -> tuple[list[Check], sqlite3.Connection | None]:
    """The store's checks, and a read-only connection to it (None if it cannot be read)."""
    directory = paths.store_dir(path)
    db = os.path.join(directory, paths.DB_NAME)
    if not os.path.isfile(db):
        return [Check("store", PROBLEM, f"no DevTrace store at {directory}", f"devtrace init --path {directory}")], None
    permissions = _permissions(directory, db)  # before opening: SQLite then makes -wal and -shm
    try:
        conn = _open(db)
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        mark = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except (StoreError, sqlite3.DatabaseError) as exc:
        if wal_deleted(exc, db):
            detail, action = WAL_DELETED.format(db=db).split("; nothing is lost: ")
            return [Check("store", PROBLEM, f"{db} cannot be read now: {detail}", f"nothing is lost: {action}")], None
        action = f"move {db} aside and restore it from a backup (devtrace init then starts an empty store)"
        return [Check("store", PROBLEM, f"{db} cannot be read ({exc})", action)], None
    if mark not in (0, APPLICATION_ID) or (mark == 0 and version >= MARKED_FROM_VERSION) or "command_events" not in tables:
        conn.close()
        return [Check("store", PROBLEM, f"{db} is a SQLite database but not a DevTrace store",
                      "point --path (or $DEVTRACE_PATH) at a DevTrace store")], None
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    checks = [_integrity(db, integrity), _schema(version), *permissions]
    if version == migrations.latest_version():  # an older store gets WAL when it is migrated
        checks.insert(2, _journal(db, journal))
    checks.append(_key(directory, conn))
    return checks, conn


def _open(db: str) -> sqlite3.Connection:
    """A plain connection that writes nothing (and, closing last, tidies the -wal and -shm
    files away), or a read-only one where DevTrace may not write."""
    if os.access(db, os.W_OK) and os.access(os.path.dirname(db) or ".", os.W_OK):
        return sqlite3.connect(db)
    return open_read_only(db)


def pending_scores(conn: sqlite3.Connection) -> int | None:
    """Events without a score; None for a store older than scores' bookkeeping (DevTrace 0.2.0)."""
    try:
        return conn.execute("SELECT count(*) FROM command_events WHERE scored_at IS NULL").fetchone()[0]
    except sqlite3.OperationalError:
        return None


def _integrity(db: str, rows: list) -> Check:
    if [r[0] for r in rows] == ["ok"]:
        return Check("integrity", OK, "SQLite integrity check passed")
    first = rows[0][0] if rows else "no answer"
    return Check("integrity", PROBLEM, f"SQLite integrity check failed: {first}",
                 f"restore {db} from a backup; `sqlite3 {db} .recover` can salvage the rows it still holds")


def _journal(db: str, mode: str) -> Check:
    if mode.lower() == "wal":
        return Check("journal", OK, "write-ahead log (WAL): readers and many capturing processes at once")
    return Check("journal", PROBLEM, f"journal mode {mode} (set from outside DevTrace): capture and readers "
                 "now wait for each other", f"sqlite3 {db} 'PRAGMA journal_mode = WAL'")


def _schema(version: int) -> Check:
    latest = migrations.latest_version()
    if version == latest:
        return Check("schema", OK, f"migration level {version}, the latest this DevTrace knows")
    if version > latest:
        return Check("schema", PROBLEM, f"migration level {version}, written by a newer DevTrace (this one knows {latest})",
                     "upgrade DevTrace")
    return Check("schema", NOTE, f"migration level {version}, this DevTrace knows {latest}",
                 "the next command that writes to the store migrates it (devtrace init does it now)")


def _permissions(directory: str, db: str) -> list[Check]:
    checks = []
    shared = [name for name in (db, f"{db}-wal", f"{db}-shm") if _readable_by_others(name)]
    if shared:
        files = " ".join(shared)
        checks.append(Check("privacy", PROBLEM, f"readable by other users: {files}", f"chmod 600 {files}"))
    else:
        checks.append(Check("privacy", OK, "the store's database is readable by its owner only"))
    if not (os.access(db, os.W_OK) and os.access(directory, os.W_OK)):
        checks.append(Check("writable", NOTE, "DevTrace cannot write here: reading works (from a private copy), "
                            "capture, labels and scores do not", f"give write access to {directory} and its files"))
    return checks


def _key(directory: str, conn: sqlite3.Connection) -> Check:
    settings, _ = load_settings(directory)
    if settings.hash_key:
        return Check("key", OK, "the organisation key from the settings hashes commands (hash.key is not used)")
    file = key_file(directory)
    if not os.path.exists(file) and not _holds_hashed_events(conn):
        return Check("key", NOTE, f"no {file} yet", "the next capture creates it")
    try:
        read_key(directory)
    except StoreError as exc:
        return Check("key", PROBLEM, str(exc).partition(": ")[0], str(exc).partition(": ")[2])
    if _readable_by_others(file):
        return Check("key", PROBLEM, f"{file} is readable by other users", f"chmod 600 {file}")
    return Check("key", OK, f"{file} is present and private")


def _holds_hashed_events(conn: sqlite3.Connection) -> bool:
    try:
        return holds_hashed_events(conn)
    except sqlite3.OperationalError:  # a DevTrace 0.2.0 store: no session ids, no store key yet
        return False


def _readable_by_others(file: str) -> bool:
    try:
        return bool(os.stat(file).st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False

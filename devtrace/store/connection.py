"""Opening a store: refuse what is not ours before writing a byte, then migrate if needed.

A store DevTrace creates is private whatever the umask: its folder 0700, `devtrace.db` 0600
(SQLite gives the -wal, -shm and -journal files the mode of the database file), `hash.key`
0600. A folder that already existed keeps its mode.
"""

import os
import sqlite3

from devtrace import paths
from devtrace.store import migrations
from devtrace.store.errors import StoreBusy, StoreError, StoreReadOnly
from devtrace.store.key import create_key, key_file

BUSY_TIMEOUT_S = 30.0
APPLICATION_ID = 1146384995
"""'DTrc': the header mark of a DevTrace store (`PRAGMA application_id`), set by migration 6."""
MARKED_FROM_VERSION = 6
LOW_DISK_BYTES = 1 << 20
"""Less free space than this when SQLite fails to open or write: the disk is full."""


def open_store(path: str | os.PathLike | None = None) -> sqlite3.Connection:
    """Open an existing store (migrating it if it is older), or fail with a StoreError
    (a StoreReadOnly when the store is there but DevTrace may not write to it)."""
    directory = paths.store_dir(path)
    db = os.path.join(directory, paths.DB_NAME)
    _check_folder(directory)
    if not os.path.isfile(db):
        others = [found for found in _stores_nearby() if found != os.path.abspath(directory)]
        hint = (f"stores found: {', '.join(others)} (pick one with --path)" if others
                else f"create one with `devtrace init --path {directory}`")
        raise StoreError(f"no DevTrace store at {directory} ({hint})")
    return connect_file(db)


def _stores_nearby() -> list[str]:
    """The stores a person may have meant: $DEVTRACE_PATH's, the per-user one, and a project's
    ./.devtrace (DevTrace 0.2.0's default), those that exist."""
    found = []
    for candidate in (os.environ.get("DEVTRACE_PATH"), paths.DEFAULT_DIR, ".devtrace"):
        if candidate:
            folder = os.path.abspath(os.path.expanduser(candidate))
            if os.path.isfile(os.path.join(folder, paths.DB_NAME)) and folder not in found:
                found.append(folder)
    return found


def create_store(path: str | os.PathLike | None = None, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open the store, creating the directory, database and hashing key if missing. Waits at
    most `busy_timeout_s` for a lock another process holds (then StoreBusy)."""
    directory = paths.store_dir(path)
    _check_folder(directory)
    db = os.path.join(directory, paths.DB_NAME)
    try:
        _make_private_folder(directory)
        create_private_file(db)
    except OSError as exc:
        raise _os_problem(exc, directory, f"cannot create the store at {directory}") from None
    conn = connect_file(db, busy_timeout_s=busy_timeout_s)  # refuses a foreign file untouched
    try:
        _ignore_in_git(directory)
        if not os.path.exists(key_file(directory)) and not holds_hashed_events(conn):
            create_key(directory)
    except OSError as exc:
        conn.close()
        raise _os_problem(exc, directory, f"cannot write to the store at {directory}") from None
    return conn


def holds_hashed_events(conn: sqlite3.Connection) -> bool:
    """Whether some event was hashed with a key (captured by DevTrace 0.3 or later: those
    carry a session id). Such a store's missing key is never replaced silently: reading the
    key (capture, doctor) says how to restore or rotate it. A DevTrace 0.2.0 store gets one."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM command_events WHERE session_id IS NOT NULL)").fetchone()[0] == 1


def connect_file(db: str, label: str | None = None, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A connection to the store file `db` (migrated to the latest schema); errors name `label`."""
    label = label or db
    try:
        conn = sqlite3.connect(db, timeout=busy_timeout_s, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {label}: {exc}") from None
    try:
        # Reading the header is the first thing done: a file that is not a SQLite database
        # fails here, before any pragma that could write to it.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        _check_mark(conn.execute("PRAGMA application_id").fetchone()[0], version, label)
        if version != migrations.latest_version():
            migrations.upgrade(conn, label)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _sqlite_problem(exc, db, label) from None
    except StoreError:
        conn.close()
        raise
    return conn


def _check_mark(application_id: int, version: int, label: str) -> None:
    """Every DevTrace store from schema 6 on carries APPLICATION_ID; older ones carry none."""
    if application_id not in (0, APPLICATION_ID) or (application_id == 0 and version >= MARKED_FROM_VERSION):
        raise StoreError(f"{label} is a SQLite database but not a DevTrace store")


def _check_folder(directory: str) -> None:
    if os.path.islink(directory) and not os.path.exists(directory):
        raise StoreError(f"the store path {directory} is a symbolic link that leads nowhere (a loop or a missing target)")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise StoreError(f"the store path {directory} is a file; a store is a folder (see --path, $DEVTRACE_PATH)")


def _make_private_folder(directory: str) -> None:
    if os.path.isdir(directory):
        return
    try:
        os.makedirs(directory)
    except FileExistsError:  # another process made it meanwhile
        return
    os.chmod(directory, 0o700)


def create_private_file(db: str) -> None:
    try:
        fd = os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
    finally:
        os.close(fd)


def _sqlite_problem(exc: sqlite3.Error, db: str, label: str) -> StoreError:
    text = str(exc)
    folder = os.path.dirname(db) or "."
    if isinstance(exc, sqlite3.OperationalError) and ("database is locked" in text or "busy" in text):
        return StoreBusy(f"{label} is locked by another process")
    if ("readonly" in text or "unable to open" in text) and not (os.access(db, os.W_OK) and os.access(folder, os.W_OK)):
        return StoreReadOnly(f"cannot write to {label}: DevTrace needs write access to the store and its folder")
    if ("disk" in text or "unable to open" in text) and _disk_full(folder):  # before: a full disk fails the -wal too
        return StoreError(f"the disk holding {label} is full: free some space and try again")
    if wal_deleted(exc, db):
        return StoreBusy(f"{label} cannot be written now: " + WAL_DELETED.format(db=db))
    return StoreError(f"{label} is not a usable DevTrace store ({text})")


def wal_deleted(exc: Exception, db: str) -> bool:
    """SQLite's "disk I/O error" because the write-ahead log (`-wal`) was deleted while a
    process had the store open: the `-shm` index still names frames, the log is gone (or
    empty: the failed open made it again). Nothing is damaged: that process still holds the
    log and writes it back into the database when it closes the store."""
    try:
        return "disk I/O error" in str(exc) and os.path.exists(db + "-shm") and os.path.getsize(db + "-wal") == 0
    except FileNotFoundError:
        return True


WAL_DELETED = ("its write-ahead log ({db}-wal) was deleted while a process had the store open; nothing is lost: "
               "close the programs using the store (`fuser {db}` names them) and the last one writes the log back")


def _os_problem(exc: OSError, directory: str, what: str) -> StoreError:
    if os.path.isdir(directory) and _disk_full(directory):
        return StoreError(f"{what}: the disk is full")
    return StoreError(f"{what}: {exc.strerror or exc}")


def _disk_full(folder: str) -> bool:
    try:
        fs = os.statvfs(folder)
    except OSError:
        return False
    return fs.f_bavail * fs.f_frsize < LOW_DISK_BYTES


# What DevTrace itself keeps in a store folder.
_OWN_FILES = {paths.DB_NAME, f"{paths.DB_NAME}-wal", f"{paths.DB_NAME}-shm", f"{paths.DB_NAME}-journal",
              paths.KEY_NAME, paths.IMPORT_KEY_NAME, paths.CONFIG_NAME, paths.ACTIVE_MODEL_DIR, paths.VERSIONS_DIR,
              paths.SCORING_LOCK, paths.SCORER_LOG, paths.HOOKS_LOG, paths.SYNC_LOCK, paths.SYNC_LOG,
              paths.SPOOL_DIR, paths.DRAINER_LOCK, paths.DRAINER_PID, paths.HEALTH_FILE, paths.SHELLS_FILE}


def _ignore_in_git(directory: str) -> None:
    """Keep the store out of version control: a `.gitignore` of `*` in its folder, but only
    when the folder holds nothing but the store (`--path .` must not hide a project)."""
    ignore = os.path.join(directory, ".gitignore")
    if os.path.exists(ignore):
        return
    if all(name in _OWN_FILES or name.startswith(paths.KEY_NAME) for name in os.listdir(directory)):
        with open(ignore, "w") as f:
            f.write("# Created by DevTrace: the store stays out of version control.\n*\n")

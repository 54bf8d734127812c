"""Opening a store: refuse what is not ours before writing a byte, then migrate if needed."""

import os
import sqlite3

from devtrace import paths
from devtrace.store import migrations
from devtrace.store.errors import StoreError

BUSY_TIMEOUT_S = 30.0


def open_store(path: str | os.PathLike | None = None) -> sqlite3.Connection:
    """Open an existing store (migrating it if it is older), or fail with a StoreError."""
    directory = paths.store_dir(path)
    db = os.path.join(directory, paths.DB_NAME)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise StoreError(f"the store path {directory} is a file; a store is a folder (see --path, $DEVTRACE_PATH)")
    if not os.path.isfile(db):
        raise StoreError(
            f"no DevTrace store at {directory} (create one with `devtrace init --path {directory}`)"
        )
    return _connect(db)


def create_store(path: str | os.PathLike | None = None) -> sqlite3.Connection:
    """Open the store, creating the directory, database and hashing key if missing."""
    directory = paths.store_dir(path)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise StoreError(f"{directory} exists and is not a directory")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the store at {directory}: {exc.strerror}") from None
    conn = _connect(os.path.join(directory, paths.DB_NAME))  # refuses a foreign file untouched
    try:
        _ignore_in_git(directory)
        _create_key(os.path.join(directory, paths.KEY_NAME))
    except OSError as exc:
        conn.close()
        raise StoreError(f"cannot write to the store at {directory}: {exc.strerror}") from None
    return conn


def _connect(db: str) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(db, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {db}: {exc}") from None
    try:
        # Reading the header is the first thing done: a file that is not a SQLite database
        # fails here, before any pragma that could write to it.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != migrations.latest_version():
            migrations.upgrade(conn, db)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "readonly" in str(exc) or "unable to open" in str(exc):
            raise StoreError(f"cannot write to {db}: DevTrace needs write access to the store and its folder") from None
        raise StoreError(f"{db} is not a usable DevTrace store ({exc})") from None
    except StoreError:
        conn.close()
        raise
    return conn


# What DevTrace itself keeps in a store folder.
_OWN_FILES = {paths.DB_NAME, f"{paths.DB_NAME}-wal", f"{paths.DB_NAME}-shm", f"{paths.DB_NAME}-journal",
              paths.KEY_NAME, paths.CONFIG_NAME, paths.ACTIVE_MODEL_DIR, paths.VERSIONS_DIR,
              paths.SCORING_LOCK, paths.SCORER_LOG, paths.SYNC_LOCK, paths.SYNC_LOG}


def _ignore_in_git(directory: str) -> None:
    """Keep the store out of version control: a `.gitignore` of `*` in its folder, but only
    when the folder holds nothing but the store (`--path .` must not hide a project)."""
    ignore = os.path.join(directory, ".gitignore")
    if os.path.exists(ignore):
        return
    if all(name in _OWN_FILES or name.startswith(paths.KEY_NAME) for name in os.listdir(directory)):
        with open(ignore, "w") as f:
            f.write("# Created by DevTrace: the store stays out of version control.\n*\n")


def _create_key(key_file: str) -> None:
    """Write a random hashing key readable by the owner only, atomically (many may race)."""
    if os.path.exists(key_file):
        return
    tmp = f"{key_file}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, os.urandom(32).hex().encode() + b"\n")
    finally:
        os.close(fd)
    try:
        os.link(tmp, key_file)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)

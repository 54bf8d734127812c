"""The file a reader (DuckDB) attaches: the store itself, or a private copy of a store that
DevTrace may not write to (a read-only mount, or a store one may read but not write).

SQLite cannot open a WAL database, even read-only, when it can neither use nor create the
-shm file beside it, and DuckDB's SQLite extension takes no `immutable` flag. So such a
store is copied through SQLite's backup API, from a read-only connection, into a private
temporary file (0600 in a 0700 folder, removed when the process ends) and the copy is read:
the store as it was when the copy was made. A copy serves as long as the store's files do
not change; the checks and migrations of any store run on the copy, never on the store.
"""

import atexit
import os
import shutil
import sqlite3
import tempfile
from urllib.parse import quote

from devtrace import paths
from devtrace.store.connection import connect_file, create_private_file, open_store
from devtrace.store.errors import StoreError, StoreReadOnly

_files: dict[tuple, str] = {}
_folder: list[str] = []


def readable_file(path: str | os.PathLike | None = None) -> str:
    """The database file to read the store at `path` from; fails like `open_store` would
    (missing, foreign, corrupt or newer store), except for lacking write access.

    Every finished command is in what it gives: commands still in the spool are drained first
    when the store is free, else written into a private copy of the store that is read instead
    (the store is locked by another process: the reader does not wait)."""
    db = paths.db_file(path)
    try:
        open_store(path).close()  # an older store is migrated in place
    except StoreReadOnly:
        return read_only_copy(db)
    directory = paths.store_dir(path)
    if _spooled(directory) and not _drainer(directory, "--once"):
        copy = _copy(db)
        if _drainer(directory, "--into", copy):
            return copy
    return _text_name(db)


def _spooled(directory: str) -> bool:
    try:
        return any(name.endswith(".rec") for name in os.listdir(os.path.join(directory, paths.SPOOL_DIR)))
    except OSError:
        return False


def _drainer(directory: str, *args: str) -> bool:
    """Run the store's drainer in the foreground (a process: the store layer does not import
    capture); whether it did what was asked."""
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-m", "devtrace.capture.drainer", "--path", directory, *args],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def read_only_copy(db: str) -> str:
    signature = _signature(db)
    copy = _files.get(signature)
    if copy is not None and os.path.isfile(copy):
        return copy
    copy = _copy(db)
    _files[signature] = copy
    return copy


def _copy(db: str) -> str:
    """A private copy of the store, made through SQLite's backup API from a read-only connection."""
    copy = os.path.join(_private_folder(), f"store-{len(_files)}-{len(os.listdir(_private_folder()))}.db")
    create_private_file(copy)
    source = open_read_only(db)
    try:
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{db} is not a usable DevTrace store ({exc})") from None
    finally:
        source.close()
    conn = connect_file(copy, label=db)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")  # readers of the copy need no -shm
    finally:
        conn.close()
    return copy


def _text_name(db: str) -> str:
    """DuckDB takes file names as UTF-8 text. A path with bytes that are not (a folder named in
    another locale) is reached through a symbolic link with a plain name; SQLite follows it
    and finds the -wal and -shm files beside the store itself."""
    try:
        db.encode("utf-8")
        return db
    except UnicodeEncodeError:
        pass
    key = ("link", os.path.abspath(db))
    link = _files.get(key)
    if link is None or not os.path.islink(link):
        link = os.path.join(_private_folder(), f"store-{len(_files)}.db")
        os.symlink(key[1], link)
        _files[key] = link
    return link


def open_read_only(db: str) -> sqlite3.Connection:
    """`mode=ro` reads consistently beside a writer at work (through its -shm file). When
    there is no -shm and none can be made, nobody is writing through WAL: read the file as
    it is (`immutable`)."""
    uri = "file:" + quote(os.fsencode(os.path.abspath(db)))
    failure = None
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        conn = sqlite3.connect(f"{uri}?{flags}", uri=True)
        try:
            conn.execute("PRAGMA user_version").fetchone()
            return conn
        except sqlite3.DatabaseError as exc:
            conn.close()
            failure = exc
    raise StoreError(f"cannot read {db}: {failure}")


def _signature(db: str) -> tuple:
    """What changes when the store does: its files' identity, size and modification time."""
    found: list[object] = [os.path.realpath(db)]
    for name in (db, f"{db}-wal"):
        try:
            st = os.stat(name)
        except FileNotFoundError:
            found.append(None)
            continue
        found.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(found)


def _private_folder() -> str:
    if not _folder:
        _folder.append(tempfile.mkdtemp(prefix="devtrace-read-"))
        atexit.register(shutil.rmtree, _folder[0], True)
    return _folder[0]

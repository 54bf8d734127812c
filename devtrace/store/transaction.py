"""One short write transaction: `BEGIN IMMEDIATE` takes the write lock up front, so a busy
store makes the writer wait (busy timeout) instead of failing halfway."""

import sqlite3
from contextlib import contextmanager


@contextmanager
def write_transaction(conn: sqlite3.Connection):
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite rolled back already (an I/O error): the error to report is the first one
        raise
    conn.execute("COMMIT")

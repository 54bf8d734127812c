"""The SQLite store, DevTrace's system of record (standard library only: capture uses it).

One file, `<path>/devtrace.db`, in WAL mode with a busy timeout; every write is a short
`BEGIN IMMEDIATE` transaction, so many processes can capture at once.
"""

from devtrace.store.connection import create_store, open_store
from devtrace.store.errors import StoreError
from devtrace.store.events import insert_event, insert_events, insert_rows

__all__ = ["StoreError", "create_store", "insert_event", "insert_events", "insert_rows", "open_store"]

from devtrace.errors import DevtraceError


class StoreError(DevtraceError):
    """The store is missing, not a DevTrace store, corrupt, or from a newer version."""


class StoreReadOnly(StoreError):
    """The store is there, but DevTrace may not write to it (a read-only mount, or permissions)."""


class StoreBusy(StoreError):
    """Another process holds the store's lock longer than the caller would wait."""

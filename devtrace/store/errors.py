from devtrace.errors import DevtraceError


class StoreError(DevtraceError):
    """The store is missing, not a DevTrace store, corrupt, or from a newer version."""

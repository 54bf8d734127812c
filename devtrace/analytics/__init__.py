"""The read side: DuckDB over the store through the views in sql/views, as Polars frames.

`connect`, `sql` and `events` are DevTrace's Python API (also as `devtrace.connect`, ...).
Names load on first use: listing the views needs no DuckDB, and `devtrace events` no Polars.
"""

from devtrace.lazy import lazy_attributes

_LAZY = {
    "View": "devtrace.analytics.view_files",
    "view": "devtrace.analytics.view_files",
    "views": "devtrace.analytics.view_files",
    "STORE_ALIAS": "devtrace.analytics.connection",
    "connect": "devtrace.analytics.connection",
    "event_rows": "devtrace.analytics.connection",
    "events": "devtrace.analytics.connection",
    "extension_path": "devtrace.analytics.connection",
    "init_script": "devtrace.analytics.connection",
    "one_line": "devtrace.analytics.connection",
    "query": "devtrace.analytics.connection",
    "run": "devtrace.analytics.connection",
    "sql": "devtrace.analytics.connection",
}
__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())

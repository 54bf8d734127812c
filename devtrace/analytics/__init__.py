"""The read side: DuckDB over the store through the views in sql/views, as Polars frames.

`connect`, `sql` and `events` are DevTrace's Python API (also as `devtrace.connect`, ...).
"""

from devtrace.analytics.connection import (
    STORE_ALIAS,
    View,
    connect,
    events,
    extension_path,
    init_script,
    one_line,
    query,
    sql,
    view,
    views,
)

__all__ = [
    "STORE_ALIAS", "View", "connect", "events", "extension_path", "init_script", "one_line", "query", "sql",
    "view", "views",
]

"""SQL text DevTrace writes itself: quoting, and the names its statements share.

Values go to DuckDB as parameters wherever DuckDB takes them; these are for the statements
that cannot take parameters (LOAD, ATTACH, SET, a view's definition, a query handed to
sqlite_query or postgres_query as text)."""

FIRST_DAY_VARIABLE = "devtrace_first_day"
LAST_DAY_VARIABLE = "devtrace_last_day"
"""The UTC days of the analytics day filter (devtrace.analytics.filters), as DuckDB variables:
a central lake's `store.command_events` reads them to skip whole day partitions (a filter on
the views' derived `executed_at` alone cannot prune files)."""


def literal(text: object) -> str:
    """`text` as a SQL string literal: 'it''s'."""
    return "'" + str(text).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """`name` as a quoted SQL identifier (double quotes, each inner one doubled), for a column name
    DevTrace did not choose."""
    return '"' + name.replace('"', '""') + '"'

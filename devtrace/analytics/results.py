"""A DuckDB result as a Polars frame, or one sentence saying which column cannot be one.

Types and values are checked before Polars sees them: converting an INTERVAL or UNION
column, or printing or writing a date beyond Polars' calendar, makes Polars raise or panic
(a Rust panic prints a backtrace even when caught).
"""

import re

import duckdb
import polars as pl

from devtrace.errors import DevtraceError

NO_POLARS_TYPE = re.compile(r"\bINTERVAL\b|\bUNION\(")
"""DuckDB types Polars has no column for (also inside a LIST, STRUCT or MAP)."""

# Polars formats dates and times through chrono, which stops about 262,000 years either side
# of year 0; DuckDB goes further and has +-infinity (the extreme 64-bit values for times).
_CALENDAR_DAYS = 95_000_000
_PER_SECOND = {"ms": 10**3, "us": 10**6, "ns": 10**9}
_INFINITY = 2**63 - 1


def frame_of(relation: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    for name, dtype in zip(relation.columns, relation.types, strict=True):
        if NO_POLARS_TYPE.search(str(dtype)):
            raise DevtraceError(
                f"column {name!r} is of type {dtype}, which Polars cannot hold: CAST it to VARCHAR (or another type) in the query"
            )
    try:
        frame = relation.pl()
    except (pl.exceptions.PolarsError, ArithmeticError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DevtraceError(f"the result cannot become a Polars frame: {first}") from None
    for name, dtype in frame.schema.items():
        if dtype in (pl.Date, pl.Datetime) and not _within_calendar(frame.get_column(name)):
            raise DevtraceError(
                f"column {name!r} holds a date Polars cannot show (such as 'infinity'): "
                "filter those rows out or CAST the column to VARCHAR"
            )
    return frame


def _within_calendar(column: pl.Series) -> bool:
    values = column.drop_nulls()
    if values.is_empty():
        return True
    if column.dtype == pl.Date:
        numbers, limit = values.cast(pl.Int32), _CALENDAR_DAYS
    else:
        per_second = _PER_SECOND[column.dtype.time_unit]
        numbers, limit = values.cast(pl.Int64), min(_CALENDAR_DAYS * 86_400 * per_second, _INFINITY - 1)
    return -limit <= int(numbers.min()) and int(numbers.max()) <= limit

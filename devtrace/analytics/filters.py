"""Narrow every view of an analytics connection to a slice of the events.

Each view in sql/views reads the `events` view. Renaming the full view to `all_events` and
defining `events` as a filtered selection of it makes every view, and so every metric as
it is defined there, answer for the slice: nothing is recomputed outside the SQL files.
"""

import datetime as dt
from collections.abc import Iterable

import duckdb

from devtrace.analytics.sql_text import FIRST_DAY_VARIABLE, LAST_DAY_VARIABLE, literal

FULL_VIEW = "all_events"


def filter_events(
    con: duckdb.DuckDBPyConnection,
    *,
    agents: Iterable[str | None] | None = None,
    days: tuple[dt.date, dt.date] | None = None,
    programs: Iterable[str | None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Make `events` (and every view over it) show only these agents, UTC days (inclusive) and
    programs; None or an empty selection means all. Safe to call again with other choices.
    Returns `con`."""
    has_full_view = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT temporary", [FULL_VIEW]
    ).fetchone()[0]
    if not has_full_view:
        con.execute(f"ALTER VIEW events RENAME TO {FULL_VIEW}")
    conditions = [_one_of("agent_id", agents), _one_of("program", programs)]
    if days is not None:
        start, end = days
        conditions.append(f"CAST(executed_at AS DATE) BETWEEN DATE '{start.isoformat()}' AND DATE '{end.isoformat()}'")
        con.execute(f"SET VARIABLE {FIRST_DAY_VARIABLE} = DATE '{start.isoformat()}'")
        con.execute(f"SET VARIABLE {LAST_DAY_VARIABLE} = DATE '{end.isoformat()}'")
    else:
        con.execute(f"RESET VARIABLE {FIRST_DAY_VARIABLE}")
        con.execute(f"RESET VARIABLE {LAST_DAY_VARIABLE}")
    where = " AND ".join(c for c in conditions if c) or "true"
    con.execute(f"CREATE OR REPLACE VIEW events AS SELECT * FROM {FULL_VIEW} WHERE {where}")
    return con


def chosen_days(picked: tuple[dt.date, dt.date], initial: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date] | None:
    """The day range to filter on: None (no bound) while the picker still shows the range it
    started with, so that days captured after it was drawn are not silently left out."""
    return None if picked == initial else picked


def _one_of(column: str, values: Iterable[str | None] | None) -> str:
    chosen = list(values or [])
    if not chosen:
        return ""
    texts = [v for v in chosen if v is not None]
    tests = [f"{column} IN ({', '.join(literal(v) for v in texts)})"] if texts else []
    if len(texts) < len(chosen):
        tests.append(f"{column} IS NULL")
    return "(" + " OR ".join(tests) + ")"


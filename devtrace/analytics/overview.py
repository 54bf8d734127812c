"""The analysis's frames: one definition for the analysis notebook and the report.

Each is a query over the views in sql/views on an analytics connection, narrowed or not by
`filter_events`: every metric is defined in the SQL files, never here. What this module adds
is not a metric: the order rows are shown in, a command's display name, the newest events,
and `span`, the store's extent that the day filter is chosen within.
"""

from typing import NamedTuple

import duckdb
import polars as pl

from devtrace.analytics.connection import query
from devtrace.analytics.likely_stuck import likely_stuck_sessions
from devtrace.readable import MISSING, count, duration, share

NO_AGENT = "(no agent)"
"""How events captured without an agent are named on screen."""
RECENT_EVENTS = 5000
"""The analysis lists at most this many events, the newest."""


def span(con: duckdb.DuckDBPyConnection) -> dict:
    """How many events there are and their first and last UTC day."""
    return query(
        con,
        "SELECT count(*) AS events, CAST(min(executed_at) AS DATE) AS first_day,"
        " CAST(max(executed_at) AS DATE) AS last_day FROM events",
    ).row(0, named=True)


def agent_names(con: duckdb.DuckDBPyConnection) -> list[str | None]:
    """Every agent (None: captured without one), the busiest first."""
    return query(con, "SELECT agent_id FROM agent_summary ORDER BY commands DESC, agent_id")["agent_id"].to_list()


def program_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every program run, the most run first."""
    return query(
        con,
        "SELECT program FROM command_stats WHERE program IS NOT NULL GROUP BY program ORDER BY sum(runs) DESC, program",
    )["program"].to_list()


def totals(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The headline numbers (the `totals` view): one row, none when no event matches."""
    return query(con, "SELECT * FROM totals")


def per_day(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return query(con, "SELECT * FROM daily_activity ORDER BY day, agent_id")


def duration_bins(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Durations on a log scale, per agent (the `duration_histogram` view)."""
    return query(con, "SELECT * FROM duration_histogram ORDER BY log10_ms, agent_id")


def productivity_trend(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Mean predicted productivity per UTC day and model version, over the scored events (the
    `daily_model_scores` view)."""
    return query(
        con,
        "SELECT day, model_ref, mean_predicted_productivity, scored FROM daily_model_scores"
        " WHERE scored > 0 ORDER BY day, model_ref",
    )


def per_command(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every command as people read it (its text, else program [hash prefix]), the most failing first."""
    return query(con, "SELECT * EXCLUDE (command_hash) FROM command_stats ORDER BY failures DESC, runs DESC, command")


def where_time_went(con: duckdb.DuckDBPyConnection, limit: int = 15) -> pl.DataFrame:
    """The commands that took the most wall time (the `top` view by command), as a person reads
    them: share, time, runs, failures, time lost to retried failures, a person's and agents' time."""
    frame = query(con, "SELECT * FROM top WHERE \"by\" = 'command' ORDER BY wall_ms DESC, runs DESC, key LIMIT ?", [limit])
    return pl.DataFrame(
        {
            "command": frame["key"].to_list(),
            "share": [share(v) for v in frame["share"]],
            "time": [duration(v) for v in frame["wall_ms"]],
            "runs": [count(v) for v in frame["runs"]],
            "failed": [count(v) for v in frame["failures"]],
            "lost to retries": [duration(v) for v in frame["lost_in_retry_ms"]],
            "you": [duration(v) for v in frame["human_ms"]],
            "agents": [duration(v) for v in frame["agent_ms"]],
        },
        schema=dict.fromkeys(["command", "share", "time", "runs", "failed", "lost to retries", "you", "agents"], pl.String),
    )


def retry_loops(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return query(con, "SELECT * EXCLUDE (command_hash) FROM retry_loops ORDER BY started_at DESC")


def likely_stuck(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Sessions whose predicted outcomes fall (devtrace.analytics.likely_stuck), the most
    recently flagged first."""
    return likely_stuck_sessions(con).pl()


def agent_cost(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """What each agent's sessions cost, per session, per green run and per loop ended (the
    `agent_cost` view), the costliest first."""
    return query(con, "SELECT * FROM agent_cost ORDER BY estimated_cost_usd DESC NULLS LAST, sessions DESC, agent")


def repo_outcomes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per repository, a person's and agents' runs, green runs, time to green and the agents'
    cost side by side (the `repo_outcomes` view), the busiest repository first."""
    return query(con, "SELECT * FROM repo_outcomes ORDER BY sum(runs) OVER (PARTITION BY repo_id) DESC, repo_id, kind")


def time_to_green(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """How long failing commands took to go green (the `time_to_green` view), a person's and
    agents' rows of one repository and command side by side, the most failing first."""
    return query(con, "SELECT coalesce(program, '?') || ' [' || left(command_hash, 8) || ']' AS command,"
                      " * EXCLUDE (command_hash, program) FROM time_to_green"
                      " ORDER BY repo_id NULLS LAST, failures DESC, command_hash, author_kind NULLS LAST")


def recent_events(con: duckdb.DuckDBPyConnection, limit: int = RECENT_EVENTS) -> pl.DataFrame:
    return query(con, f"SELECT command, * EXCLUDE (command, repo_id, command_hash) FROM events"
                      f" ORDER BY executed_at DESC, id DESC LIMIT {int(limit)}")


class Stat(NamedTuple):
    value: str
    label: str
    caption: str = ""


def headline(totals: pl.DataFrame, loops: pl.DataFrame) -> list[Stat]:
    """The headline numbers as shown: commands, failure rate, agents, retry loops, mean score."""
    row = totals.row(0, named=True)
    score = row["mean_predicted_productivity"]
    return [
        Stat(f"{row['commands']:,}", "Commands"),
        Stat(f"{row['failure_rate']:.1%}", "Failure rate", f"{row['failures']:,} failed"),
        Stat(str(row["agents"]), "Agents", "distinct, named"),
        Stat(f"{loops.height:,}", "Retry loops"),
        Stat(MISSING if score is None else f"{score:.1f}", "Mean predicted productivity", "per scored event"),
    ]

"""`devtrace top`: where did my time go, over the `top` view (sql/views/20_top.sql)."""

import datetime as dt
import re
from typing import Annotated

import typer

from devtrace.cli.options import CentralOption, PathOption
from devtrace.errors import DevtraceError

GROUPINGS = ("command", "program", "repo", "agent")
COST_VIEWS = ["next_green", "retry_loops", "agent_sessions", "agent_cost"]
"""What `--by agent` reads besides `top`: the agent_cost view and the views it is built on."""
COST_COLUMNS = ["sessions", "estimated_cost_usd", "cost_per_session_usd", "cost_per_green_run_usd", "cost_per_loop_ended_usd"]
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def register(app: typer.Typer) -> None:
    app.command("top")(top)


def top(
    since: Annotated[
        str, typer.Option("--since", metavar="PERIOD", help="How far back: 30m, 12h, 7d, 4w, a day (YYYY-MM-DD) or 'all'.")
    ] = "7d",
    by: Annotated[str, typer.Option("--by", metavar="GROUPING", help="command, program, repo or agent.")] = "command",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show the N groups that took the most time.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON rows, exact values.")] = False,
    path: PathOption = None,
    central: CentralOption = None,
) -> None:
    """Where your time went: wall time, share, runs, failures and retry loops, by command; by
    agent also what its sessions cost (per session, per green run, per retry loop it ended).
    Sessions whose predicted outcomes fall are named as likely stuck."""
    from devtrace import analytics
    from devtrace.analytics.likely_stuck import likely_stuck_sessions

    if by not in GROUPINGS:
        raise DevtraceError(f"--by takes {', '.join(GROUPINGS)}, not {by!r}")
    start = since_moment(since)
    views = ["events", "time_spent", "top", *(COST_VIEWS if by == "agent" else [])]
    with analytics.connect(path, central=central, only=views) as con:
        rows, columns, totals = top_rows(con, by, start, limit)
        stuck = [] if as_json else likely_stuck_sessions(con, start).fetchall()  # the JSON is the groups' rows
    if as_json:
        import json

        typer.echo(json.dumps([dict(zip(columns, map(_json, row), strict=True)) for row in rows], indent=2))
        return
    typer.echo(headline(totals, start))
    if stuck:
        typer.echo(stuck_line(stuck))
    if rows:
        typer.echo("")
        typer.echo(table(columns, rows, by))


def since_moment(text: str) -> dt.datetime | None:
    """The start of the period as a naive UTC datetime (the views' timestamps), None for 'all'."""
    text = text.strip()
    if text == "all":
        return None
    now = dt.datetime.now(dt.UTC)
    found = re.fullmatch(r"(\d+)\s*([mhdw])", text)
    if found:
        start = now - dt.timedelta(seconds=int(found[1]) * _UNITS[found[2]])
    else:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise DevtraceError(f"--since takes 30m, 12h, 7d, 4w, a day (YYYY-MM-DD) or 'all', not {text!r}") from None
        start = dt.datetime.combine(day, dt.time()).astimezone()  # the local day's start
    return start.astimezone(dt.UTC).replace(tzinfo=None)


def top_rows(con, by: str, start: dt.datetime | None, limit: int) -> tuple[list[tuple], list[str], tuple]:
    """The `limit` groups that took the most wall time, the column names, and the totals
    of the period (wall, runs, failures, lost in retries, then human and agent time, runs, failures)."""
    if start is not None:
        con.execute("SET VARIABLE top_since = ?", [start])
    # By agent, each agent's sessions and what they cost (the agent_cost view) come beside its time.
    cost = (f", {', '.join('c.' + c for c in COST_COLUMNS)} FROM top AS t LEFT JOIN agent_cost AS c ON c.agent = t.key"
            if by == "agent" else " FROM top AS t")
    relation = con.sql(f'SELECT t.* EXCLUDE ("by"){cost} WHERE t."by" = ? ORDER BY wall_ms DESC, runs DESC, key LIMIT ?',
                       params=[by, limit])
    columns, rows = relation.columns, relation.fetchall()
    totals = con.sql(
        "SELECT coalesce(sum(wall_ms), 0), coalesce(sum(runs), 0), coalesce(sum(failures), 0), "
        "coalesce(sum(lost_in_retry_ms), 0), coalesce(sum(human_ms), 0), coalesce(sum(agent_ms), 0), "
        "coalesce(sum(human_runs), 0), coalesce(sum(agent_runs), 0), coalesce(sum(human_failures), 0), "
        "coalesce(sum(agent_failures), 0) FROM top WHERE \"by\" = 'agent'"
    ).fetchone()
    return rows, columns, totals


def headline(totals: tuple, start: dt.datetime | None) -> str:
    from devtrace.readable import count, duration, local_time

    wall, runs, failures, lost, human_ms, agent_ms, human_runs, agent_runs, human_failed, agent_failed = totals
    period = "since " + local_time(start.replace(tzinfo=dt.UTC), seconds=False) if start else "over all time"
    if not runs:
        return f"No commands recorded {period}. Capture some with the shell hook or devtrace run -- <command>."
    lines = [f"{duration(wall)} in {count(runs)} commands {period}",
             f"{count(failures)} failed; {duration(lost)} lost to failed runs that were retried",
             f"  you:    {duration(human_ms):>14}  {count(human_runs):>7} commands  {count(human_failed):>5} failed",
             f"  agents: {duration(agent_ms):>14}  {count(agent_runs):>7} commands  {count(agent_failed):>5} failed"]
    return "\n".join(lines)


def stuck_line(sessions: list[tuple]) -> str:
    """The sessions `likely_stuck_sessions` found, in a line: how many, and the newest three."""
    named = ", ".join(f"{session} ({who or 'unknown'})" for session, who, *_ in sessions[:3])
    more = f" and {len(sessions) - 3} more" if len(sessions) > 3 else ""
    return f"{len(sessions)} likely stuck (predicted outcomes falling): {named}{more}"


def table(columns: list[str], rows: list[tuple], by: str) -> str:
    from devtrace.cli.render import Column, plain_table
    from devtrace.readable import count, dollars, duration, share

    at = {name: i for i, name in enumerate(columns)}
    layout = [
        Column("share", right=True),
        Column("time", right=True),
        Column("runs", right=True),
        Column("failed", right=True),
        Column("lost", right=True, optional=True),
        Column("you", right=True, optional=True),
        Column("agents", right=True, optional=True),
    ]
    # A command without stored text recorded under two keys is two rows: they say their key.
    keys = {row[at["key_fingerprint"]] for row in rows} if "key_fingerprint" in at else set()
    label = (lambda row: f"{row[at['key']]} · key {str(row[at['key_fingerprint']])[:8]}") if len(keys) > 1 \
        else (lambda row: str(row[at["key"]]))
    costs = [] if by != "agent" else [
        Column("sessions", right=True, optional=True),
        Column("cost", right=True, optional=True),
        Column("/session", right=True, optional=True),
        Column("/green run", right=True, optional=True),
        Column("/loop ended", right=True, optional=True),
    ]
    layout += [*costs, Column(by, flexible=True)]
    cells = [[
        share(row[at["share"]]),
        duration(row[at["wall_ms"]]),
        count(row[at["runs"]]),
        count(row[at["failures"]]),
        duration(row[at["lost_in_retry_ms"]]),
        duration(row[at["human_ms"]]),
        duration(row[at["agent_ms"]]),
        *([count(row[at["sessions"]]), *(dollars(row[at[c]]) for c in COST_COLUMNS[1:])] if costs else []),
        label(row),
    ] for row in rows]
    return plain_table(layout, cells)


def _json(value):
    return str(value) if isinstance(value, dt.datetime) else value

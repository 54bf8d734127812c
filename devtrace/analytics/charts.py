"""The analysis's charts (altair), drawn from the frames of `overview`: one definition for
the analysis notebook and the report. Each fills its container's width."""

import altair as alt
import polars as pl

from devtrace.analytics.overview import NO_AGENT

HEIGHT = 220
# What the analysis shows (markdown) in place of a chart that has nothing to draw.
NO_SCORES = "No scored events here yet: train a model with `devtrace ml train`."
NO_LOOPS = "No retry loops: no command was re-run soon after failing."

_agent_id = pl.col("agent_id").fill_null(NO_AGENT)


def activity_chart(per_day: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(per_day.select("day", _agent_id, "commands", "failures"))
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="Day"),
            y=alt.Y("commands:Q", title="Commands"),
            color=alt.Color("agent_id:N", title="Agent"),
            tooltip=["day:T", "agent_id:N", "commands:Q", "failures:Q"],
        )
        .properties(title="Daily activity", width="container", height=HEIGHT)
    )


def failure_chart(per_day: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(per_day.select("day", _agent_id, "failure_rate", "failures"))
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title="Day"),
            y=alt.Y("failure_rate:Q", title="Failure rate", axis=alt.Axis(format="%")),
            color=alt.Color("agent_id:N", title="Agent"),
            tooltip=["day:T", "agent_id:N", alt.Tooltip("failure_rate:Q", format=".1%"), "failures:Q"],
        )
        .properties(title="Failure rate per agent", width="container", height=HEIGHT)
    )


def churn_chart(per_day: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(per_day.select("day", "lines_added", "lines_deleted"))
        .transform_calculate(added="datum.lines_added", deleted="-datum.lines_deleted")
        .transform_fold(["added", "deleted"], as_=["change", "lines"])
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="Day"),
            y=alt.Y("sum(lines):Q", title="Lines added (+) and deleted (−) by commands"),
            color=alt.Color("change:N", title="", scale=alt.Scale(domain=["added", "deleted"], range=["#54a24b", "#e45756"])),
            tooltip=["day:T", "change:N", alt.Tooltip("sum(lines):Q", title="lines")],
        )
        .properties(title="Churn over time", width="container", height=HEIGHT)
    )


def duration_chart(duration_bins: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(duration_bins.with_columns(_agent_id))
        .mark_bar(opacity=0.8)
        .encode(
            x=alt.X("log10_ms:Q", bin=alt.Bin(step=0.25), title="Duration (log10 ms: 0 = 1 ms, 3 = 1 s, 5 = 100 s)"),
            y=alt.Y("sum(commands):Q", title="Commands", stack=True),
            color=alt.Color("agent_id:N", title="Agent"),
            tooltip=["agent_id:N", "log10_ms:Q", "sum(commands):Q"],
        )
        .properties(title="Duration distribution", width="container", height=HEIGHT)
    )


def productivity_chart(productivity_trend: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(productivity_trend)
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title="Day"),
            y=alt.Y("mean_predicted_productivity:Q", title="Mean predicted productivity", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("model_ref:N", title="Model version"),
            tooltip=["day:T", "model_ref:N", alt.Tooltip("mean_predicted_productivity:Q", format=".1f"), "scored:Q"],
        )
        .properties(title="Predicted productivity per model version", width="container", height=HEIGHT)
    )


def failing_chart(per_command: pl.DataFrame, top: int = 15) -> alt.Chart:
    """The `top` commands with the most failed runs."""
    most = per_command.filter(pl.col("failures") > 0).sort("failures", descending=True, maintain_order=True).head(top)
    return (
        alt.Chart(most.select("command", "runs", "failures", "failure_rate", "agents"))
        .mark_bar()
        .encode(
            y=alt.Y("command:N", sort="-x", title="Command (program · hash)"),
            x=alt.X("failures:Q", title="Failed runs"),
            color=alt.Color("failure_rate:Q", title="Failure rate", scale=alt.Scale(scheme="orangered", domain=[0, 1])),
            tooltip=["command:N", "runs:Q", "failures:Q", alt.Tooltip("failure_rate:Q", format=".1%"), "agents:Q"],
        )
        .properties(title="Most-failing commands", width="container", height=260)
    )


def retry_chart(loops: pl.DataFrame) -> alt.Chart:
    """Retries per UTC day, resolved loops apart from the others (a large store has many
    thousands of loops: the chart carries one row per day and outcome)."""
    per_day = (
        loops.group_by(pl.col("started_at").dt.date().alias("day"), "resolved")
        .agg(pl.len().alias("loops"), pl.col("retries").sum())
        .sort("day", "resolved")
    )
    return (
        alt.Chart(per_day)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="Day"),
            y=alt.Y("retries:Q", title="Retries in loops"),
            color=alt.Color("resolved:N", title="Resolved", scale=alt.Scale(domain=[True, False], range=["#4c78a8", "#e45756"])),
            tooltip=["day:T", "resolved:N", "loops:Q", "retries:Q"],
        )
        .properties(title="Retry loops (a command re-run soon after it failed)", width="container", height=HEIGHT)
    )

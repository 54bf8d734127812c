import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="DevTrace analysis")

with app.setup:
    import altair as alt
    import marimo as mo

    from devtrace import analytics, paths
    from devtrace.analytics.filters import chosen_days, filter_events
    from devtrace.errors import DevtraceError


@app.cell(hide_code=True)
def _():
    mo.md(
        """
        # DevTrace analysis

        How developers and agents executed their commands: activity, failures, time,
        churn and model scores. Every number comes from the store's SQL views.
        """
    )
    return


@app.cell(hide_code=True)
def _():
    store_input = mo.ui.text(value=paths.store_dir(), label="Store", full_width=True)
    store_input
    return (store_input,)


@app.cell
def _(store_input):
    try:
        con = analytics.connect(store_input.value.strip() or None)
    except DevtraceError as _exc:
        mo.stop(True, mo.callout(mo.md(f"**Cannot open the store.** {_exc}"), kind="danger"))
    span = analytics.query(
        con,
        "SELECT count(*) AS events, CAST(min(executed_at) AS DATE) AS first_day,"
        " CAST(max(executed_at) AS DATE) AS last_day FROM events",
    ).row(0, named=True)
    mo.stop(span["events"] == 0, mo.callout(mo.md("The store has no events yet: capture some with `devtrace run`."), kind="warn"))
    agent_names = analytics.query(con, "SELECT agent_id FROM agent_summary ORDER BY commands DESC")["agent_id"].to_list()
    program_names = analytics.query(
        con, "SELECT program FROM command_stats WHERE program IS NOT NULL GROUP BY program ORDER BY sum(runs) DESC"
    )["program"].to_list()
    return agent_names, con, program_names, span


@app.cell(hide_code=True)
def _(agent_names, program_names, span):
    agent_select = mo.ui.multiselect(
        options={name or "(no agent)": name for name in agent_names}, label="Agents (none chosen: all)"
    )
    day_range = mo.ui.date_range(
        start=span["first_day"], stop=span["last_day"], value=(span["first_day"], span["last_day"]), label="Days (UTC)"
    )
    program_select = mo.ui.multiselect(options=program_names, label="Programs (none chosen: all)")
    mo.hstack([agent_select, day_range, program_select], justify="start", gap=2, wrap=True)
    return agent_select, day_range, program_select


@app.cell
def _(agent_select, con, day_range, program_select, span):
    # The picker starts on the days seen at load: left there, it bounds nothing, so days
    # captured since are not dropped.
    _days = chosen_days(day_range.value, (span["first_day"], span["last_day"]))
    scoped = filter_events(con, agents=agent_select.value, days=_days, programs=program_select.value)
    return (scoped,)


@app.cell
def _(scoped):
    totals = mo.sql(
        """
        -- agents: distinct named agents (commands captured without one are not an agent);
        -- the mean score is over the scored events, so each event weighs the same.
        SELECT sum(commands) AS commands, sum(failures) AS failures, sum(failures) / sum(commands) AS failure_rate,
               count(agent_id) AS agents,
               (SELECT avg(predicted_productivity) FROM events) AS mean_predicted_productivity
        FROM agent_summary
        """,
        engine=scoped,
        output=False,
    )
    return (totals,)


@app.cell(hide_code=True)
def _(loops, totals):
    _row = totals.row(0, named=True)
    mo.stop(not _row["commands"], mo.callout(mo.md("No events match these filters."), kind="warn"))
    _score = _row["mean_predicted_productivity"]
    mo.hstack(
        [
            mo.stat(f"{_row['commands']:,}", label="Commands"),
            mo.stat(f"{_row['failure_rate']:.1%}", label="Failure rate", caption=f"{_row['failures']:,} failed"),
            mo.stat(str(_row["agents"]), label="Agents", caption="distinct, named"),
            mo.stat(f"{loops.height:,}", label="Retry loops"),
            mo.stat("—" if _score is None else f"{_score:.1f}", label="Mean predicted productivity", caption="per scored event"),
        ],
        widths="equal",
    )
    return


@app.cell
def _(scoped):
    per_day = mo.sql(
        """
        SELECT * FROM daily_activity ORDER BY day, agent_id
        """,
        engine=scoped,
        output=False,
    )
    return (per_day,)


@app.cell
def _(per_day):
    _base = alt.Chart(per_day).encode(
        x=alt.X("day:T", title="Day"), color=alt.Color("agent_id:N", title="Agent")
    )
    activity_chart = (
        _base.mark_bar()
        .encode(y=alt.Y("commands:Q", title="Commands"), tooltip=["day:T", "agent_id:N", "commands:Q", "failures:Q"])
        .properties(title="Daily activity", width="container", height=220)
    )
    failure_chart = (
        _base.mark_line(point=True)
        .encode(
            y=alt.Y("failure_rate:Q", title="Failure rate", axis=alt.Axis(format="%")),
            tooltip=["day:T", "agent_id:N", alt.Tooltip("failure_rate:Q", format=".1%"), "failures:Q"],
        )
        .properties(title="Failure rate per agent", width="container", height=220)
    )
    churn_chart = (
        alt.Chart(per_day)
        .transform_calculate(added="datum.lines_added", deleted="-datum.lines_deleted")
        .transform_fold(["added", "deleted"], as_=["change", "lines"])
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="Day"),
            y=alt.Y("sum(lines):Q", title="Lines added (+) and deleted (−) by commands"),
            color=alt.Color("change:N", title="", scale=alt.Scale(domain=["added", "deleted"], range=["#54a24b", "#e45756"])),
            tooltip=["day:T", "change:N", alt.Tooltip("sum(lines):Q", title="lines")],
        )
        .properties(title="Churn over time", width="container", height=220)
    )
    mo.vstack([mo.hstack([activity_chart, failure_chart], widths="equal"), churn_chart])
    return activity_chart, churn_chart, failure_chart


@app.cell
def _(scoped):
    duration_bins = mo.sql(
        """
        -- Durations on a log scale: quarter-decade bins of milliseconds, per agent.
        SELECT agent_id,
               floor(log10(greatest(duration_ms, 1)) * 4) / 4 AS log10_ms,
               count(*) AS commands
        FROM events
        GROUP BY ALL
        ORDER BY log10_ms
        """,
        engine=scoped,
        output=False,
    )
    return (duration_bins,)


@app.cell
def _(duration_bins):
    duration_chart = (
        alt.Chart(duration_bins)
        .mark_bar(opacity=0.8)
        .encode(
            x=alt.X("log10_ms:Q", bin=alt.Bin(step=0.25), title="Duration (log10 ms: 0 = 1 ms, 3 = 1 s, 5 = 100 s)"),
            y=alt.Y("sum(commands):Q", title="Commands", stack=True),
            color=alt.Color("agent_id:N", title="Agent"),
            tooltip=["agent_id:N", "log10_ms:Q", "sum(commands):Q"],
        )
        .properties(title="Duration distribution", width="container", height=220)
    )
    duration_chart
    return (duration_chart,)


@app.cell
def _(scoped):
    productivity_trend = mo.sql(
        """
        SELECT CAST(executed_at AS DATE) AS day, model_ref,
               avg(predicted_productivity) AS mean_predicted_productivity, count(*) AS scored
        FROM events
        WHERE predicted_productivity IS NOT NULL
        GROUP BY ALL
        ORDER BY day, model_ref
        """,
        engine=scoped,
        output=False,
    )
    return (productivity_trend,)


@app.cell
def _(productivity_trend):
    productivity_chart = (
        alt.Chart(productivity_trend)
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title="Day"),
            y=alt.Y("mean_predicted_productivity:Q", title="Mean predicted productivity", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("model_ref:N", title="Model version"),
            tooltip=["day:T", "model_ref:N", alt.Tooltip("mean_predicted_productivity:Q", format=".1f"), "scored:Q"],
        )
        .properties(title="Predicted productivity per model version", width="container", height=220)
    )
    _empty = mo.callout(mo.md("No scored events here yet: train a model with `devtrace ml train`."), kind="info")
    productivity_chart if productivity_trend.height else _empty
    return (productivity_chart,)


@app.cell
def _(scoped):
    per_command = mo.sql(
        """
        SELECT coalesce(program, '?') || ' · ' || left(command_hash, 8) AS command, *
        FROM command_stats
        ORDER BY failures DESC, runs DESC
        """,
        engine=scoped,
        output=False,
    )
    return (per_command,)


@app.cell
def _(per_command):
    failing_chart = (
        alt.Chart(per_command.filter(per_command["failures"] > 0).head(15))
        .mark_bar()
        .encode(
            y=alt.Y("command:N", sort="-x", title="Command (program · hash)"),
            x=alt.X("failures:Q", title="Failed runs"),
            color=alt.Color("failure_rate:Q", title="Failure rate", scale=alt.Scale(scheme="orangered", domain=[0, 1])),
            tooltip=["command:N", "runs:Q", "failures:Q", alt.Tooltip("failure_rate:Q", format=".1%"), "agents:Q"],
        )
        .properties(title="Most-failing commands", width="container", height=260)
    )
    failing_chart
    return (failing_chart,)


@app.cell
def _(scoped):
    loops = mo.sql(
        """
        SELECT * FROM retry_loops ORDER BY started_at DESC
        """,
        engine=scoped,
        output=False,
    )
    return (loops,)


@app.cell
def _(loops):
    retry_chart = (
        alt.Chart(loops)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(started_at):T", title="Day"),
            y=alt.Y("sum(retries):Q", title="Retries in loops"),
            color=alt.Color("resolved:N", title="Resolved", scale=alt.Scale(domain=[True, False], range=["#4c78a8", "#e45756"])),
            tooltip=["yearmonthdate(started_at):T", "resolved:N", "count():Q", "sum(retries):Q"],
        )
        .properties(title="Retry loops (a command re-run soon after it failed)", width="container", height=220)
    )
    _empty = mo.callout(mo.md("No retry loops: no command was re-run soon after failing."), kind="success")
    retry_chart if loops.height else _empty
    return (retry_chart,)


@app.cell
def _(scoped):
    recent_events = mo.sql(
        """
        SELECT * EXCLUDE (repo_id) FROM events ORDER BY executed_at DESC LIMIT 5000
        """,
        engine=scoped,
        output=False,
    )
    return (recent_events,)


@app.cell(hide_code=True)
def _(loops, per_command, per_day, recent_events):
    mo.vstack(
        [
            mo.md("## Tables\nSearch, filter by column, and download (csv, json, parquet) from each table."),
            mo.ui.tabs(
                {
                    "Daily activity": mo.ui.table(per_day, page_size=15, selection=None),
                    "Commands": mo.ui.table(per_command, page_size=15, selection=None),
                    "Retry loops": mo.ui.table(loops, page_size=15, selection=None),
                    "Events (newest 5,000)": mo.ui.table(recent_events, page_size=15, selection=None),
                }
            ),
        ]
    )
    return


if __name__ == "__main__":
    app.run()

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="DevTrace analysis")

with app.setup:
    import marimo as mo

    from devtrace import analytics, paths
    from devtrace.analytics import charts, overview
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
    span = overview.span(con)
    mo.stop(span["events"] == 0, mo.callout(mo.md("The store has no events yet: capture some with `devtrace run`."), kind="warn"))
    agent_names = overview.agent_names(con)
    program_names = overview.program_names(con)
    return agent_names, con, program_names, span


@app.cell(hide_code=True)
def _(agent_names, program_names, span):
    agent_select = mo.ui.multiselect(
        options={overview.NO_AGENT if name is None else name: name for name in agent_names}, label="Agents (none chosen: all)"
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
    totals = overview.totals(scoped)
    return (totals,)


@app.cell(hide_code=True)
def _(loops, totals):
    mo.stop(totals.is_empty(), mo.callout(mo.md("No events match these filters."), kind="warn"))
    mo.hstack(
        [mo.stat(s.value, label=s.label, caption=s.caption or None) for s in overview.headline(totals, loops)],
        widths="equal",
    )
    return


@app.cell(hide_code=True)
def _(scoped, totals):
    mo.stop(not totals["commands"][0])
    where_time_went = overview.where_time_went(scoped)
    mo.vstack([mo.md("### Where the time went"), mo.ui.table(where_time_went, selection=None, page_size=15)])
    return (where_time_went,)


@app.cell
def _(scoped):
    per_day = overview.per_day(scoped)
    return (per_day,)


@app.cell
def _(per_day):
    activity_chart = charts.activity_chart(per_day)
    failure_chart = charts.failure_chart(per_day)
    churn_chart = charts.churn_chart(per_day)
    mo.vstack([mo.hstack([activity_chart, failure_chart], widths="equal"), churn_chart])
    return activity_chart, churn_chart, failure_chart


@app.cell
def _(scoped):
    duration_bins = overview.duration_bins(scoped)
    return (duration_bins,)


@app.cell
def _(duration_bins):
    duration_chart = charts.duration_chart(duration_bins)
    duration_chart
    return (duration_chart,)


@app.cell
def _(scoped):
    productivity_trend = overview.productivity_trend(scoped)
    return (productivity_trend,)


@app.cell
def _(productivity_trend):
    productivity_chart = charts.productivity_chart(productivity_trend)
    _empty = mo.callout(mo.md(charts.NO_SCORES), kind="info")
    productivity_chart if productivity_trend.height else _empty
    return (productivity_chart,)


@app.cell
def _(scoped):
    per_command = overview.per_command(scoped)
    return (per_command,)


@app.cell
def _(per_command):
    failing_chart = charts.failing_chart(per_command)
    failing_chart
    return (failing_chart,)


@app.cell
def _(scoped):
    loops = overview.retry_loops(scoped)
    return (loops,)


@app.cell
def _(loops):
    retry_chart = charts.retry_chart(loops)
    _empty = mo.callout(mo.md(charts.NO_LOOPS), kind="success")
    retry_chart if loops.height else _empty
    return (retry_chart,)


@app.cell
def _(scoped):
    recent_events = overview.recent_events(scoped)
    likely_stuck = overview.likely_stuck(scoped)
    agent_cost = overview.agent_cost(scoped)
    time_to_green = overview.time_to_green(scoped)
    repo_outcomes = overview.repo_outcomes(scoped)
    return agent_cost, likely_stuck, recent_events, repo_outcomes, time_to_green


@app.cell(hide_code=True)
def _(likely_stuck):
    _named = ", ".join(f"`{s}` ({w or 'unknown'})" for s, w in likely_stuck.select("session_id", "who").head(5).iter_rows())
    mo.callout(
        mo.md(f"**{likely_stuck.height} likely stuck** (the model's predicted outcomes keep falling): {_named}"
              + (", ..." if likely_stuck.height > 5 else "") + ". See the *Likely stuck* table below."),
        kind="warn",
    ) if likely_stuck.height else mo.md("")
    return


@app.cell(hide_code=True)
def _(agent_cost, likely_stuck, loops, per_command, per_day, recent_events, repo_outcomes, time_to_green):
    mo.vstack(
        [
            mo.md("## Tables\nSearch, filter by column, and download (csv, json, parquet) from each table."),
            mo.ui.tabs(
                {
                    "Daily activity": mo.ui.table(per_day, page_size=15, selection=None),
                    "Commands": mo.ui.table(per_command, page_size=15, selection=None),
                    "Retry loops": mo.ui.table(loops, page_size=15, selection=None),
                    "Likely stuck": mo.ui.table(likely_stuck, page_size=15, selection=None),
                    "Time to green": mo.ui.table(time_to_green, page_size=15, selection=None),
                    "Agent cost": mo.ui.table(agent_cost, page_size=15, selection=None),
                    "People and agents per repository": mo.ui.table(repo_outcomes, page_size=15, selection=None),
                    f"Events (newest {overview.RECENT_EVENTS:,})": mo.ui.table(recent_events, page_size=15, selection=None),
                }
            ),
        ]
    )
    return


if __name__ == "__main__":
    app.run()

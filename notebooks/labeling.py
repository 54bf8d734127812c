import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="DevTrace labeling")

with app.setup:
    import getpass

    import altair as alt
    import marimo as mo
    import polars as pl

    from devtrace import analytics, paths
    from devtrace.errors import DevtraceError
    from devtrace.ml import registry
    from devtrace.ml.explain import describe, explain
    from devtrace.ml.features import FEATURES
    from devtrace.ml.labeling_queue import LABEL_GUIDE, labeling_queue, outcome_facts, session_context, session_window
    from devtrace.readable import MISSING, duration, local_time
    from devtrace.readable import value as shown
    from devtrace.store.label_undo import retract_label
    from devtrace.store.labels import label


@app.cell(hide_code=True)
def _():
    mo.md(
        """
        # DevTrace labeling

        Give events a 0-100 label of how much they moved the work forward. The queue puts
        first the events the model is least sure of and those most unlike anything labeled so
        far: they teach the next model the most. Each event comes with the commands around it
        and what followed it (its outcome label, as a suggestion). Labels are saved to the
        store at once, win over outcome labels, and are used by the next training run.
        """
    )
    return


@app.cell(hide_code=True)
def _():
    store_input = mo.ui.text(value=paths.store_dir(), label="Store", full_width=True)
    labeler_input = mo.ui.text(value=getpass.getuser(), label="Your name")
    mo.hstack([store_input, labeler_input], widths=[3, 1])
    return labeler_input, store_input


@app.cell
def _(store_input):
    store = store_input.value.strip() or None
    try:
        events = analytics.events(path=store)
    except DevtraceError as _exc:
        mo.stop(True, mo.callout(mo.md(f"**Cannot open the store.** {_exc}"), kind="danger"))
    try:
        model = registry.load(registry.active_dir(store))
    except DevtraceError:
        model = None
    queue = labeling_queue(events, model.booster if model else None)
    outcomes = analytics.sql("SELECT * EXCLUDE (ended_at, started_at) FROM outcomes", path=store)
    # What was done in this sitting (a store opened), newest last:
    # {"event_id", "label_id" (None when skipped), "value"}.
    get_history, set_history = mo.state([])
    return events, get_history, model, outcomes, queue, set_history, store


@app.cell
def _(get_history, queue):
    history = get_history()
    _handled = [step["event_id"] for step in history]
    remaining = queue.filter(~pl.col("id").is_in(_handled))
    current = remaining.row(0, named=True) if remaining.height else None
    return current, history, remaining


@app.cell(hide_code=True)
def _(history, model, queue):
    _saved = sum(step["label_id"] is not None for step in history)
    _skipped = len(history) - _saved
    _order = "uncertainty and novelty" if model else "novelty only (no active model yet)"
    mo.vstack(
        [
            mo.hstack(
                [
                    mo.stat(f"{_saved} / {queue.height}", label="Labeled / queue"),
                    mo.stat(str(_skipped), label="Skipped"),
                    mo.stat(model.ref if model else "none", label="Active model"),
                ],
                widths="equal",
            ),
            mo.md(f"Queue ordered by {_order}."),
        ]
    )
    return


@app.cell
def _(current, events, model):
    mo.stop(current is None, mo.callout(mo.md("Nothing left to label here: every event in the queue is done."), kind="success"))
    if model:
        _context = session_context(events, current)
        reasons = explain(model, _context, events=[current["id"]], top_k=len(FEATURES), sample=None).reasons
    else:
        reasons = pl.DataFrame({"feature": FEATURES, "value": [describe(f, current["features"][f]) for f in FEATURES]})
    return (reasons,)


@app.cell(hide_code=True)
def _(current, model, reasons):
    _facts = {
        "Command": current["command"],
        "When": local_time(current["executed_at"]),
        "Who": shown(current["agent_id"] or current["author_kind"]),
        "Exit code": shown(current["exit_code"]),
        "Duration": duration(current["duration_ms"]),
        "Lines +/− (this command)": MISSING if current["delta_lines_added"] is None
        else f"+{current['delta_lines_added']} −{current['delta_lines_deleted']}",
        "Event": current["id"],
        "Session": current["session_id"],
        "Model score": shown(current["predicted_productivity"], 1),
        "Uncertainty": MISSING if current["uncertainty"] is None else f"{current['uncertainty']:.2f} points",
        "Novelty": f"{current['novelty']:.2f}",
    }
    if model:
        reasons_chart = (
            alt.Chart(reasons.with_columns(reason=pl.col("feature") + " = " + pl.col("value")))
            .mark_bar()
            .encode(
                x=alt.X("contribution:Q", title="SHAP contribution to the score (points)"),
                y=alt.Y("reason:N", sort=alt.EncodingSortField("rank"), title=None),
                color=alt.condition("datum.contribution > 0", alt.value("#2a9d8f"), alt.value("#e76f51")),
                tooltip=["feature:N", "value:N", alt.Tooltip("contribution:Q", format=".2f")],
            )
            .properties(title=f"Why the model scores it {reasons['prediction'][0]:.1f}", width="container", height=260)
        )
        _explained = reasons_chart
    else:
        reasons_chart = None
        _explained = mo.vstack([mo.callout(mo.md("No active model: no SHAP reasons."), kind="info"), mo.ui.table(reasons, selection=None)])
    mo.hstack(
        [
            mo.md("### Next event\n\n| | |\n|---|---|\n" + "\n".join(f"| {k} | `{v}` |" for k, v in _facts.items())),
            _explained,
        ],
        widths=[2, 3],
    )
    return (reasons_chart,)


@app.cell(hide_code=True)
def _(current, events, outcomes):
    mo.stop(current is None)
    _found = outcomes.filter(pl.col("id") == current["id"])
    outcome = _found.row(0, named=True) if _found.height else None
    mo.hstack(
        [
            mo.vstack([
                mo.md("### Around it in the session"),
                mo.ui.table(session_window(events, current), selection=None, show_download=False, page_size=11),
            ]),
            mo.vstack([
                mo.md("### What followed\n\n| | |\n|---|---|\n"
                      + "\n".join(f"| {k} | {v} |" for k, v in outcome_facts(outcome).items())),
                mo.md("### What the numbers mean\n\n" + LABEL_GUIDE),
            ]),
        ],
        widths=[3, 2],
    )
    return (outcome,)


@app.cell(hide_code=True)
def _(current, outcome):
    mo.stop(current is None)
    _suggested = 50 if outcome is None or outcome["outcome_label"] is None else round(outcome["outcome_label"])
    value_input = mo.ui.number(start=0, stop=100, step=1, value=_suggested, label="Productivity label (0-100)")
    note_input = mo.ui.text(placeholder="why (optional)", label="Note", full_width=True)
    save_button = mo.ui.run_button(label="Save label", kind="success")
    skip_button = mo.ui.run_button(label="Skip")
    undo_button = mo.ui.run_button(label="Undo last", kind="warn")
    mo.vstack([mo.hstack([value_input, note_input], widths=[1, 3]), mo.hstack([save_button, skip_button, undo_button], justify="start")])
    return note_input, save_button, skip_button, undo_button, value_input


@app.cell
def _(current, labeler_input, note_input, save_button, set_history, store, value_input):
    mo.stop(not save_button.value)
    _label_id = label(
        current["id"], value_input.value, by=labeler_input.value.strip() or None,
        note=note_input.value.strip() or None, path=store,
    )
    set_history(lambda steps: [*steps, {"event_id": current["id"], "label_id": _label_id, "value": value_input.value}])
    return


@app.cell
def _(current, set_history, skip_button):
    mo.stop(not skip_button.value)
    set_history(lambda steps: [*steps, {"event_id": current["id"], "label_id": None, "value": None}])
    return


@app.cell
def _(get_history, set_history, store, undo_button):
    mo.stop(not undo_button.value)
    _steps = get_history()
    mo.stop(not _steps, mo.callout(mo.md("Nothing to undo yet."), kind="info"))
    if _steps[-1]["label_id"] is not None:
        try:
            retract_label(_steps[-1]["label_id"], path=store)
        except DevtraceError as _exc:
            mo.stop(True, mo.callout(mo.md(f"**Cannot undo: the label stays.** {_exc}"), kind="warn"))
    set_history(_steps[:-1])
    return


@app.cell(hide_code=True)
def _(history):
    mo.stop(not history)
    mo.vstack(
        [
            mo.md("### This sitting"),
            mo.ui.table(
                [{"event": s["event_id"], "label": "skipped" if s["label_id"] is None else s["value"]} for s in reversed(history)],
                selection=None,
            ),
        ]
    )
    return


if __name__ == "__main__":
    app.run()

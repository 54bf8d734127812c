import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="DevTrace retraining")

with app.setup:
    import os

    import altair as alt
    import marimo as mo
    import polars as pl

    from devtrace import analytics, paths
    from devtrace.errors import DevtraceError
    from devtrace.ml import defaults, registry
    from devtrace.ml.candidate_review import (
        MIXES,
        compare_with_active,
        evaluation_table,
        label_minimum,
        load_training,
        promotion_refusal,
        shap_dependence,
    )
    from devtrace.ml.evaluation import MIN_COMPARE_ROWS, NOT_ENOUGH
    from devtrace.ml.explain import explain
    from devtrace.ml.explain import importance_chart as global_importance_chart
    from devtrace.ml.pipeline import train_and_register
    from devtrace.ml.promotion import promote_checked
    from devtrace.ml.training import MIN_ROWS


@app.cell(hide_code=True)
def _():
    mo.md(
        """
        # DevTrace retraining

        Train a candidate model from the store's labels (human labels, else outcome labels:
        what followed each event, else pseudo-labels), compare it with the mean and an
        exit-code-only baseline on held-out sessions and with the active model on the same
        validation rows (rows whose human label neither model saw), read its SHAP
        explanations, and promote it if it is not worse.
        Nothing is trained until you press **Train candidate**.
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
    store = store_input.value.strip() or None
    try:
        label_counts = analytics.sql(
            "SELECT coalesce(label_source, 'prediction') AS label_source, count(*) AS events"
            " FROM training_set WHERE productivity_label IS NOT NULL GROUP BY ALL ORDER BY events DESC",
            path=store,
        )
    except DevtraceError as _exc:
        mo.stop(True, mo.callout(mo.md(f"**Cannot open the store.** {_exc}"), kind="danger"))
    versions = registry.list_versions(store)
    active_version = registry.active_version(store)
    return active_version, label_counts, store, versions


@app.cell(hide_code=True)
def _(active_version, label_counts, versions):
    _rows = [
        {"version": v["version"], "active": "✓" if v["active"] else "", "created": v.get("created_at"),
         "source": v.get("source"), "rows": v.get("rows"), "validation MAE": None if v.get("mae") is None else round(v["mae"], 3)}
        for v in reversed(versions)
    ]
    mo.hstack(
        [
            mo.vstack([mo.md("### Labels in the store"), mo.ui.table(label_counts, selection=None, show_download=False)]),
            mo.vstack(
                [
                    mo.md(f"### Model versions (active: **{active_version or 'none'}**)"),
                    mo.ui.table(_rows, selection=None) if _rows else mo.md("No model trained yet."),
                ]
            ),
        ],
        widths=[1, 2],
    )
    return


@app.cell(hide_code=True)
def _():
    mix_radio = mo.ui.radio(options={label: key for key, label in MIXES.items()}, value=MIXES["blend"], label="Label mix")
    pseudo_weight = mo.ui.slider(0.05, 1.0, step=0.05, value=defaults.PSEUDO_WEIGHT, label="Pseudo-label weight", show_value=True)
    n_estimators = mo.ui.number(start=1, stop=5000, step=1, value=defaults.N_ESTIMATORS, label="Trees (at most)")
    max_depth = mo.ui.slider(1, 10, step=1, value=defaults.MAX_DEPTH, label="Max depth", show_value=True)
    learning_rate = mo.ui.number(start=0.01, stop=1.0, step=0.01, value=defaults.LEARNING_RATE, label="Learning rate")
    seed = mo.ui.number(start=0, stop=2**31 - 1, step=1, value=defaults.SEED, label="Seed (split and model)")
    train_button = mo.ui.run_button(label="Train candidate", kind="success")
    mo.vstack(
        [
            mo.md("### Candidate"),
            mo.hstack([mix_radio, pseudo_weight], justify="start", gap=3),
            mo.hstack([n_estimators, max_depth, learning_rate, seed], justify="start", gap=2, wrap=True),
            train_button,
        ]
    )
    return learning_rate, max_depth, mix_radio, n_estimators, pseudo_weight, seed, train_button


@app.cell(hide_code=True)
def _(label_counts, mix_radio):
    usable_labels, enough_labels = label_minimum(label_counts, mix_radio.value)
    mo.callout(
        mo.md(f"Training needs at least **{MIN_ROWS}** labelled events; this label mix has **{usable_labels}** so far."
              + ("" if enough_labels else " Label more in the labeling notebook first.")),
        kind="info" if enough_labels else "warn",
    )
    return enough_labels, usable_labels


@app.cell
def _(enough_labels, learning_rate, max_depth, mix_radio, n_estimators, pseudo_weight, seed, store, train_button):
    mo.stop(not train_button.value, mo.md("_Choose the label mix and parameters, then press **Train candidate**._"))
    mo.stop(not enough_labels, mo.callout(mo.md(f"**Not trained:** fewer than {MIN_ROWS} labelled events."), kind="warn"))
    try:
        with mo.status.spinner(title="Training the candidate…"):
            training_frame, training_data = load_training(store, mix_radio.value, pseudo_weight.value)
            candidate_meta = train_and_register(
                training_data, source=f"retraining notebook ({mix_radio.value} labels)", path=store, promote=False,
                pseudo_weight=pseudo_weight.value if mix_radio.value == "blend" else None, seed=int(seed.value),
                n_estimators=int(n_estimators.value), max_depth=int(max_depth.value), learning_rate=float(learning_rate.value),
            )
    except DevtraceError as _exc:
        mo.stop(True, mo.callout(mo.md(f"**Cannot train.** {_exc}"), kind="danger"))
    candidate = registry.load(os.path.join(registry.versions_dir(store), candidate_meta["version"]))
    return candidate, candidate_meta, training_data, training_frame


@app.cell
def _(candidate, candidate_meta, seed, store, training_data, training_frame):
    try:
        _active = registry.load(registry.active_dir(store))
    except DevtraceError:
        _active = None  # no active model yet: the candidate is compared with the baseline only
    comparison, compared_rows = compare_with_active(training_frame, training_data, int(seed.value), candidate, _active)
    comparison_chart = (
        alt.Chart(comparison)
        .mark_bar()
        .encode(
            x=alt.X("mae:Q", title="Validation MAE (lower is better)"),
            y=alt.Y("model:N", sort="x", title=None),
            color=alt.Color("model:N", legend=None),
            tooltip=["model:N", alt.Tooltip("mae:Q", format=".2f"), alt.Tooltip("rmse:Q", format=".2f"), alt.Tooltip("r2:Q", format=".3f")],
        )
        .properties(title=f"The same {comparison['validation_rows'][0]} validation rows", width="container", height=120)
    )
    _sources = ", ".join(f"{n} {s}" for s, n in candidate_meta["label_sources"].items())
    _held = candidate_meta["metrics"]["evaluation"]
    _enough = comparison["validation_rows"][0] >= MIN_COMPARE_ROWS
    mo.vstack(
        [
            mo.md(f"### Candidate {candidate_meta['version']} beside the baselines and the active model\n\nTrained on {candidate_meta['rows']} events ({_sources}); {candidate_meta['trees']} trees after early stopping."
                  + (" (Unchanged: the same data and parameters trained this version before.)" if candidate_meta.get("unchanged") else "")),
            mo.md(f"On {_held['rows']} held-out rows ({_held.get('split', 'rows')}), the candidate **{_held['verdict']}**."),
            mo.ui.table(evaluation_table(_held), selection=None, show_download=False),
            mo.md(f"Compared with the active model on {compared_rows}."),
            mo.ui.table(comparison.with_columns(pl.col("mae", "rmse", "r2").round(3)), selection=None, show_download=False)
            if _enough else mo.callout(mo.md(f"**{NOT_ENOUGH}**: {comparison['validation_rows'][0]} rows (fewer than {MIN_COMPARE_ROWS})."), kind="warn"),
            comparison_chart if _enough else mo.md(""),
        ]
    )
    return compared_rows, comparison, comparison_chart


@app.cell
def _(candidate, training_data, training_frame):
    importance = explain(candidate, training_frame, limit=1, sample=5000).importance
    dependence = shap_dependence(candidate, training_data.features)
    importance_chart = global_importance_chart(importance).properties(width="container", height=300)
    feature_select = mo.ui.dropdown(options=importance["feature"].to_list(), value=importance["feature"][0], label="Dependence of")
    return dependence, feature_select, importance, importance_chart


@app.cell
def _(dependence, feature_select, importance_chart):
    dependence_chart = (
        alt.Chart(dependence.filter(pl.col("feature") == feature_select.value).drop_nulls("value"))
        .mark_circle(size=28, opacity=0.45)
        .encode(
            x=alt.X("value:Q", title=f"{feature_select.value} (feature value)"),
            y=alt.Y("shap:Q", title="SHAP contribution (points)"),
            tooltip=[alt.Tooltip("value:Q", format=".3g"), alt.Tooltip("shap:Q", format=".2f")],
        )
        .properties(title=f"SHAP dependence: {feature_select.value}", width="container", height=300)
    )
    mo.vstack([mo.md("### Why the candidate predicts what it does"), mo.hstack([importance_chart, mo.vstack([feature_select, dependence_chart])], widths="equal")])
    return (dependence_chart,)


@app.cell
def _(candidate_meta, comparison):
    refusal = promotion_refusal(comparison)
    promote_button = mo.ui.run_button(label=f"Promote {candidate_meta['version']}", kind="warn", disabled=refusal is not None)
    mo.vstack([
        mo.md("### Promote\nMake the candidate the active model: every event is rescored with it in the background."),
        mo.callout(mo.md(f"**Not promotable here.** {refusal}"), kind="danger") if refusal else promote_button,
    ])
    return promote_button, refusal


@app.cell
def _(candidate_meta, promote_button, refusal, store):
    mo.stop(refusal is not None or not promote_button.value)
    try:
        promoted, _count, rescoring = promote_checked(candidate_meta["version"], store, by="retraining notebook")
    except DevtraceError as _exc:
        mo.stop(True, mo.callout(mo.md(f"**Not promoted.** {_exc}"), kind="danger"))
    mo.callout(mo.md(f"**{promoted['version']} is now the active model.** {rescoring}"), kind="success")
    return (promoted,)


if __name__ == "__main__":
    app.run()

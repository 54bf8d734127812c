"""Explanations: global importance (mean |SHAP|), per-event reasons, and their charts.

Local accuracy is checked on every explanation: each row's contributions plus the base
value must add up to the model's raw output, else the numbers would not explain it.
"""

import os
from dataclasses import dataclass

import numpy as np
import polars as pl

from devtrace.errors import DevtraceError
from devtrace.ml.features import EXIT_CLASSES, FEATURES, PROGRAM_FAMILIES, build_features
from devtrace.ml.registry import Model
from devtrace.ml.scoring import contributions

LOCAL_ACCURACY_TOLERANCE = 1e-2  # float32 sums over hundreds of trees
_CODED = {
    "exit_class": EXIT_CLASSES,
    "prev_exit_class": EXIT_CLASSES,
    "program_family": {code: name for code, (name, _) in PROGRAM_FAMILIES.items()},
}


@dataclass
class Explanation:
    importance: pl.DataFrame  # feature, mean_abs_shap, share (of the total)
    reasons: pl.DataFrame  # event, prediction, rank, feature, value, contribution
    base_value: float
    local_accuracy_error: float  # max |sum of contributions + base - raw output|
    rows: int


def explain(
    model: Model,
    frame: pl.DataFrame,
    *,
    events: list[str] | None = None,
    limit: int = 5,
    top_k: int = 3,
    sample: int | None = 20_000,
    seed: int = 42,
) -> Explanation:
    """Importance over (a seeded sample of) `frame`; reasons for `events` (ids) or its last
    `limit` rows."""
    from devtrace.ml import xgb

    if top_k < 1 or limit < 1:
        raise DevtraceError("--top-k and --limit must be at least 1")
    features = build_features(frame)
    ids = frame.get_column("id").cast(pl.String) if "id" in frame.columns else pl.Series([str(i) for i in range(frame.height)])
    if events:
        known = set(ids.to_list())
        unknown = [e for e in events if e not in known]
        if unknown:
            raise DevtraceError(f"no event {unknown[0]!r} in the data being explained")
        chosen = np.flatnonzero(ids.is_in(events).to_numpy())
    else:
        chosen = np.arange(max(0, frame.height - limit), frame.height)
    rows = np.arange(frame.height)
    if sample and frame.height > sample:
        rows = np.sort(np.random.default_rng(seed).choice(frame.height, sample, replace=False))
    rows = np.union1d(rows, chosen)
    shap_values = contributions(model, features[rows])
    raw = model.booster.predict(
        xgb.load().DMatrix(features[rows].to_numpy(), feature_names=FEATURES), output_margin=True
    )
    error = float(np.max(np.abs(shap_values.sum(axis=1, dtype=np.float64) - raw)))
    if error > LOCAL_ACCURACY_TOLERANCE:
        raise DevtraceError(f"SHAP values do not add up to the model's output (off by {error:.4g})")
    mean_abs = np.abs(shap_values[:, :-1]).mean(axis=0)
    importance = (
        pl.DataFrame({"feature": FEATURES, "mean_abs_shap": mean_abs.astype(np.float64)})
        .with_columns(share=pl.col("mean_abs_shap") / pl.col("mean_abs_shap").sum())
        .sort("mean_abs_shap", descending=True)
    )
    position = np.searchsorted(rows, chosen)
    return Explanation(
        importance=importance,
        reasons=_reasons(ids.gather(chosen), features[chosen], shap_values[position], raw[position], top_k),
        base_value=float(shap_values[0, -1]) if len(shap_values) else 0.0,
        local_accuracy_error=error,
        rows=len(rows),
    )


def _reasons(ids, features: pl.DataFrame, shap_values: np.ndarray, raw: np.ndarray, top_k: int) -> pl.DataFrame:
    per_feature = shap_values[:, :-1]
    order = np.argsort(-np.abs(per_feature), axis=1)[:, :top_k]
    records = []
    for i, event in enumerate(ids):
        for rank, j in enumerate(order[i], start=1):
            records.append(
                {
                    "event": event,
                    "prediction": float(np.clip(raw[i], 0, 100)),
                    "rank": rank,
                    "feature": FEATURES[j],
                    "value": describe(FEATURES[j], features.row(i)[j]),
                    "contribution": float(per_feature[i, j]),
                }
            )
    schema = {"event": pl.String, "prediction": pl.Float64, "rank": pl.Int64, "feature": pl.String,
              "value": pl.String, "contribution": pl.Float64}
    return pl.DataFrame(records, schema=schema)


def describe(feature: str, value: float | None) -> str:
    """A feature value as a reader would say it (exit class and program family by name)."""
    if value is None or value != value:
        return "missing"
    if feature in _CODED:
        return _CODED[feature].get(int(value), str(int(value)))
    return f"{value:.3g}"


def importance_chart(importance: pl.DataFrame):
    """Global importance as an altair bar chart: mean |SHAP| per feature, largest first."""
    import altair as alt

    return (
        alt.Chart(importance, title="Global importance: mean |SHAP| (productivity points)")
        .mark_bar()
        .encode(
            x=alt.X("mean_abs_shap:Q", title="mean |SHAP value|"),
            y=alt.Y("feature:N", sort="-x", title=None),
            tooltip=["feature", alt.Tooltip("mean_abs_shap:Q", format=".2f"), alt.Tooltip("share:Q", format=".1%")],
        )
    )


def save_charts(explanation: Explanation, out_dir: str | os.PathLike) -> list[str]:
    """Importance and per-event reason charts, each as HTML (self-contained) and PNG."""
    import altair as alt

    out_dir = os.fspath(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise DevtraceError(f"cannot create {out_dir}: {exc.strerror}") from None
    importance = importance_chart(explanation.importance)
    reasons = (
        alt.Chart(explanation.reasons.with_columns(label=pl.col("feature") + " = " + pl.col("value")),
                  title="Top reasons per event (SHAP contribution)")
        .mark_bar()
        .encode(
            x=alt.X("contribution:Q", title="contribution to the score"),
            y=alt.Y("label:N", sort=alt.EncodingSortField("rank"), title=None),
            color=alt.condition("datum.contribution > 0", alt.value("#2a9d8f"), alt.value("#e76f51")),
            row=alt.Row("event:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
            tooltip=["event", "feature", "value", alt.Tooltip("contribution:Q", format=".2f")],
        )
        .resolve_scale(y="independent")
    )
    written = []
    for name, chart in (("importance", importance), ("reasons", reasons)):
        for ext in ("html", "png"):
            file = os.path.join(out_dir, f"{name}.{ext}")
            if ext == "html":
                chart.save(file, inline=True)  # scripts embedded: opens without a network
            else:
                chart.save(file, scale_factor=2)
            written.append(file)
    return written

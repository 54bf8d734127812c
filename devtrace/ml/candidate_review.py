"""Retraining from the store with a chosen label mix, and judging a candidate model against
the active one: same validation rows (those whose human label neither model saw), same
metrics; SHAP values for dependence charts."""

import datetime as dt

import numpy as np
import polars as pl

from devtrace.errors import DevtraceError
from devtrace.ml import defaults, evaluation, training, xgb
from devtrace.ml.features import FEATURES
from devtrace.ml.pipeline import read_training_set
from devtrace.ml.registry import Model
from devtrace.ml.scoring import contributions

MIXES = {
    "human": "Human labels only",
    "blend": "Human labels + outcome labels + pseudo-labels (weighted)",
}


def load_training(path=None, mix: str = "blend", pseudo_weight: float = defaults.PSEUDO_WEIGHT) -> tuple[pl.DataFrame, training.TrainingData]:
    """The `training_set` rows and the model inputs for a label mix: `human` keeps only events
    a person labeled; `blend` adds outcome labels (what followed each event) and pseudo-labels
    (earlier predictions) at `pseudo_weight`."""
    if mix not in MIXES:
        raise DevtraceError(f"unknown label mix {mix!r} (choose one of {', '.join(MIXES)})")
    frame = read_training_set(path)
    if mix == "human":
        human = pl.col("label_source") == "human"
        frame = frame.with_columns(productivity_label=pl.when(human).then(pl.col(training.LABEL)))
        if frame.filter(human).height == 0:
            raise DevtraceError("no event has a human label yet: label some in the labeling notebook first")
    return frame, training.store_training_data(frame, pseudo_weight)


def compare_on_validation(
    data: training.TrainingData, seed: int, models: dict[str, Model], among: np.ndarray | None = None
) -> pl.DataFrame:
    """MAE, RMSE and R² of each model on the validation rows `training.train` holds out for this
    data and seed (so a candidate trained with that seed never saw them), narrowed to the rows
    `among` (a mask over the data's rows) marks if given, beside the mean predictor."""
    train_idx, valid_idx = training.held_out_split(data, seed)
    if among is not None:
        valid_idx = valid_idx[among[valid_idx]]
    if len(valid_idx) == 0:
        raise DevtraceError("no validation rows to compare the models on")
    actual = data.label[valid_idx]
    matrix = xgb.load().DMatrix(data.features[valid_idx].select(FEATURES).to_numpy(), feature_names=FEATURES)
    predictions = {name: np.clip(model.booster.predict(matrix), 0, 100) for name, model in models.items()}
    mean = float(np.average(data.label[train_idx], weights=data.weight[train_idx]))
    predictions["mean predictor (baseline)"] = np.full(len(valid_idx), mean)
    rows = [{"model": name, **training.regression_metrics(actual, predicted)} for name, predicted in predictions.items()]
    return pl.DataFrame(rows).with_columns(validation_rows=pl.lit(len(valid_idx)))


def compare_with_active(
    frame: pl.DataFrame, data: training.TrainingData, seed: int, candidate: Model, active: Model | None
) -> tuple[pl.DataFrame, str]:
    """The candidate beside the active model on rows whose human label neither model saw, and a
    sentence saying which rows those are. The active model may have trained on any label that
    existed when it was created (and, trained --from-store, on every scored event, with its own
    prediction as the label), so the rows are the candidate's validation rows whose human
    label came later.
    When there are none (or no active model), the candidate and the mean predictor are compared
    on all its validation rows and the sentence says why the active model is not there."""
    candidate_name = f"candidate {candidate.ref}"
    held_out = training.held_out_split(data, seed)[1]
    everything = f"all {len(held_out)} validation rows held out from the candidate"
    if active is None:
        return compare_on_validation(data, seed, {candidate_name: candidate}), f"{everything}; there is no active model yet"
    created = _created_at(active)
    new = labeled_after(frame, created)
    compared = int(new[held_out].sum())
    if compared == 0:
        return compare_on_validation(data, seed, {candidate_name: candidate}), (
            f"{everything}; active {active.ref} is left out: none of them has a human label given after it was "
            f"created ({created or 'when is not recorded'}), so it may have trained on every one"
        )
    models = {candidate_name: candidate, f"active {active.ref}": active}
    return compare_on_validation(data, seed, models, among=new), (
        f"the {compared} of the {len(held_out)} validation rows held out from the candidate whose human label was "
        f"given after active {active.ref} was created ({created}): rows whose human label neither model saw"
    )


def labeled_after(frame: pl.DataFrame, moment: dt.datetime | None) -> np.ndarray:
    """A mask over the labeled rows of `training_set` rows `frame` (the rows of its TrainingData):
    rows whose human label was given at or after `moment` (UTC, to the microsecond, as a model
    version records its creation). All False when `moment` is None."""
    labeled = frame.filter(pl.col(training.LABEL).is_not_null())
    if moment is None:
        return np.zeros(labeled.height, dtype=bool)
    cutoff = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return labeled.select((pl.col("human_label_at") >= cutoff).fill_null(False)).to_series().to_numpy()


def _created_at(model: Model) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(model.metadata["created_at"])
    except (KeyError, TypeError, ValueError):
        return None


def shap_dependence(model: Model, features: pl.DataFrame, sample: int = 2000, seed: int = 42) -> pl.DataFrame:
    """One row per (sampled event, feature): the feature's value and its SHAP contribution."""
    if features.height > sample:
        features = features[np.sort(np.random.default_rng(seed).choice(features.height, sample, replace=False)).tolist()]
    shap_values = contributions(model, features)[:, :-1]
    return pl.concat(
        pl.DataFrame({"feature": name, "value": features.get_column(name), "shap": shap_values[:, j].astype(np.float64)})
        for j, name in enumerate(FEATURES)
    )


def label_minimum(label_counts: pl.DataFrame, mix: str) -> tuple[int, bool]:
    """(labels the mix would train on, whether that reaches training's minimum) from the
    notebook's count of labels per source (`label_source`, `events`)."""
    counts = dict(label_counts.select("label_source", "events").iter_rows())
    usable = counts.get("human", 0) if mix == "human" else sum(counts.values())
    return usable, usable >= training.MIN_ROWS


def evaluation_table(held: dict) -> pl.DataFrame:
    """A version's held-out comparison (metadata metrics.evaluation) as rows: the model, the
    mean and the exit-code-only baseline, MAE and rank correlation side by side."""
    return pl.DataFrame([
        {"predictor": shown, "mae": round(held[name]["mae"], 3), "rank_correlation": round(held[name]["rank"], 3)}
        for name, shown in (("model", "candidate"), ("mean", "mean (baseline)"), ("exit_code", "exit code only (baseline)"))
    ])


def promotion_refusal(comparison: pl.DataFrame) -> str | None:
    """Why the candidate may not be promoted from the notebook: it is worse than the active
    model on the rows both were compared on. None when it is not worse, when there is no
    active model in the comparison, or when the rows are too few to tell."""
    rows = comparison["validation_rows"][0]
    maes = dict(comparison.select("model", "mae").iter_rows())
    candidate = next((m for m in maes if m.startswith("candidate")), None)
    active = next((m for m in maes if m.startswith("active")), None)
    if candidate is None or active is None or rows < evaluation.MIN_COMPARE_ROWS:
        return None
    if maes[candidate] <= maes[active]:
        return None
    return (f"{candidate} is worse than {active} on the same {rows} rows (MAE {maes[candidate]:.2f} vs "
            f"{maes[active]:.2f}): it cannot be promoted from here (`devtrace ml promote --force` can, and records it)")

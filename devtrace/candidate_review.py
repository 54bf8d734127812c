"""Retraining from the store with a chosen label mix, and judging a candidate model against
the active one: same validation rows, same metrics; SHAP values for dependence charts."""

import numpy as np
import polars as pl

from devtrace.errors import DevtraceError
from devtrace.features import FEATURES
from devtrace.ml import training, xgb
from devtrace.ml.pipeline import read_training_set
from devtrace.ml.registry import Model
from devtrace.ml.scoring import contributions

MIXES = {
    "human": "Human labels only",
    "blend": "Human labels + pseudo-labels (weighted)",
}


def load_training(path=None, mix: str = "blend", pseudo_weight: float = 0.3) -> tuple[pl.DataFrame, training.TrainingData]:
    """The `training_set` rows and the model inputs for a label mix: `human` keeps only events
    a person labeled; `blend` adds pseudo-labels (earlier predictions) at `pseudo_weight`."""
    if mix not in MIXES:
        raise DevtraceError(f"unknown label mix {mix!r} (choose one of {', '.join(MIXES)})")
    frame = read_training_set(path)
    if mix == "human":
        human = pl.col("label_source") == "human"
        frame = frame.with_columns(productivity_label=pl.when(human).then(pl.col(training.LABEL)))
        if frame.filter(human).height == 0:
            raise DevtraceError("no event has a human label yet: label some in the labeling notebook first")
    return frame, training.store_training_data(frame, pseudo_weight)


def compare_on_validation(data: training.TrainingData, seed: int, models: dict[str, Model]) -> pl.DataFrame:
    """MAE, RMSE and R² of each model on the validation rows `training.train` holds out for this
    data and seed (so a candidate trained with that seed never saw them), beside the mean predictor."""
    train_idx, valid_idx = training.split(data.rows, seed)
    actual = data.label[valid_idx]
    matrix = xgb.load().DMatrix(data.features[valid_idx].select(FEATURES).to_numpy(), feature_names=FEATURES)
    predictions = {name: np.clip(model.booster.predict(matrix), 0, 100) for name, model in models.items()}
    mean = float(np.average(data.label[train_idx], weights=data.weight[train_idx]))
    predictions["mean predictor (baseline)"] = np.full(len(valid_idx), mean)
    rows = [{"model": name, **training.regression_metrics(actual, predicted)} for name, predicted in predictions.items()]
    return pl.DataFrame(rows).with_columns(validation_rows=pl.lit(len(valid_idx)))


def shap_dependence(model: Model, features: pl.DataFrame, sample: int = 2000, seed: int = 42) -> pl.DataFrame:
    """One row per (sampled event, feature): the feature's value and its SHAP contribution."""
    if features.height > sample:
        features = features[np.sort(np.random.default_rng(seed).choice(features.height, sample, replace=False)).tolist()]
    shap_values = contributions(model, features)[:, :-1]
    return pl.concat(
        pl.DataFrame({"feature": name, "value": features.get_column(name), "shap": shap_values[:, j].astype(np.float64)})
        for j, name in enumerate(FEATURES)
    )

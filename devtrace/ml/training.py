"""Training: seeded train/validation split, XGBoost with early stopping, honest metrics.

Default parameters are chosen for the cost of explaining, not only of fitting: exact
TreeSHAP costs about trees × leaves × depth² per row, and every scored event is explained.
Depth-3 trees (8 leaves) at eta 0.15 with early stopping reach the validation error of the
original's 280 depth-5 trees at eta 0.06 at about a sixth of the scoring time with SHAP
(50,000 rows: 3.8 s vs 22.7 s, benchmarks/ml.py); a minimum child weight of 10 keeps
leaves that describe a handful of rows out of the model. The defaults live in
`devtrace.ml.defaults`.
"""

import hashlib
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from devtrace.errors import DevtraceError
from devtrace.ml import defaults, xgb
from devtrace.ml.features import FEATURES, build_features, numeric_column

LABEL = "productivity_label"
VALIDATION_FRACTION = 0.2
MIN_ROWS = 10
# Below this many training rows a boosting round is too small to split between threads:
# waking the second thread costs more than it saves (50k rows: 0.4 s on one, 0.6 s on two).
PARALLEL_FROM_ROWS = 100_000



@dataclass
class TrainingData:
    """Model inputs with their label and sample weight (1 unless the label is a pseudo-label)."""

    features: pl.DataFrame
    label: np.ndarray
    weight: np.ndarray
    label_sources: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.label)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        digest.update(",".join(self.features.columns).encode())
        for array in (self.features.to_numpy(), self.label, self.weight):
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        return "sha256:" + digest.hexdigest()[:32]


@dataclass
class TrainedModel:
    booster: object
    params: dict
    metrics: dict
    best_iteration: int
    train_rows: int
    validation_rows: int
    seconds: float


def dataset_training_data(frame: pl.DataFrame) -> TrainingData:
    """A dataset file's rows: every row needs a numeric productivity_label in 0-100."""
    if LABEL not in frame.columns:
        raise DevtraceError("productivity_label is required for training")
    for name, dtype in frame.schema.items():
        infinite = frame.get_column(name).is_infinite().sum() if dtype.is_float() else 0
        if infinite:
            raise DevtraceError(f"{name} is infinite in {infinite} of {frame.height} rows: fix or drop those rows")
    features = build_features(frame)
    label = frame.select(numeric_column(frame, LABEL)).to_series()
    if label.null_count():
        raise DevtraceError(f"productivity_label is empty in {label.null_count()} of {frame.height} rows")
    label = label.to_numpy()
    not_numbers = int(np.count_nonzero(~np.isfinite(label)))
    if not_numbers:
        raise DevtraceError(f"productivity_label is not a number (NaN or infinite) in {not_numbers} of {frame.height} rows")
    _check_range(label)
    return TrainingData(features, label, np.ones(len(label)), {"dataset": len(label)})


def store_training_data(frame: pl.DataFrame, pseudo_weight: float) -> TrainingData:
    """The `training_set` view's rows: features from every event (session context needs
    them all), then the rows that have a label, pseudo-labels weighted by `pseudo_weight`."""
    if not 0 < pseudo_weight <= 1:
        raise DevtraceError("--pseudo-weight must be greater than 0 and at most 1")
    if frame.height == 0:
        raise DevtraceError("the store has no events to train on")
    features = build_features(frame)
    source = (
        frame.select(
            pl.when(pl.col(LABEL).is_null()).then(None)
            .otherwise(pl.col("label_source").fill_null("prediction"))
        )
        .to_series()
    )
    keep = source.is_not_null()
    if not keep.any():
        raise DevtraceError(
            "no event in the store has a label or a score yet: label some with `devtrace label` "
            "or score them with `devtrace ml score --pending`"
        )
    source = source.filter(keep)
    label = frame.get_column(LABEL).filter(keep).cast(pl.Float64).to_numpy()
    weight = np.where((source == "human").to_numpy(), 1.0, pseudo_weight)
    counts = {name: int(n) for name, n in source.value_counts().iter_rows()}
    return TrainingData(features.filter(keep), label, weight, counts)


def train(
    data: TrainingData,
    *,
    seed: int = 42,
    n_estimators: int = defaults.N_ESTIMATORS,
    max_depth: int = defaults.MAX_DEPTH,
    learning_rate: float = defaults.LEARNING_RATE,
    min_child_weight: float = defaults.MIN_CHILD_WEIGHT,
    early_stopping_rounds: int | None = defaults.EARLY_STOPPING_ROUNDS,
    on_round=None,
) -> TrainedModel:
    """Fit on a seeded 80% of the rows, stop early on the other 20%, report both."""
    if data.rows < MIN_ROWS:
        raise DevtraceError(f"training needs at least {MIN_ROWS} labeled rows (found {data.rows})")
    if n_estimators < 1 or max_depth < 1:
        raise DevtraceError("--n-estimators and --max-depth must be at least 1")
    if not 0 < learning_rate <= 1:  # also refuses NaN
        raise DevtraceError(f"--learning-rate must be above 0 and at most 1 (got {learning_rate:g})")
    if not 0 <= min_child_weight < math.inf:
        raise DevtraceError(f"--min-child-weight must be a number from 0 up (got {min_child_weight:g})")
    matrix = data.features.to_numpy()
    _check_finite(matrix)  # NaN is a missing value (unknown git state); infinity is no measurement
    xgboost = xgb.load()
    train_idx, valid_idx = split(data.rows, seed)
    dtrain = xgboost.QuantileDMatrix(
        matrix[train_idx], label=data.label[train_idx], weight=data.weight[train_idx], feature_names=FEATURES
    )
    dvalid = xgboost.DMatrix(
        matrix[valid_idx], label=data.label[valid_idx], weight=data.weight[valid_idx], feature_names=FEATURES
    )
    params = {
        "objective": "reg:squarederror",
        "eval_metric": "mae",
        "tree_method": "hist",
        "max_depth": max_depth,
        "learning_rate": learning_rate,
        "min_child_weight": min_child_weight,
        "seed": seed,
        "nthread": 1 if len(train_idx) < PARALLEL_FROM_ROWS else os.cpu_count() or 1,
    }
    callbacks = [_round_callback(xgboost, on_round)] if on_round else None
    started = time.perf_counter()
    booster = xgboost.train(
        params,
        dtrain,
        num_boost_round=n_estimators,
        evals=[(dvalid, "validation")],
        early_stopping_rounds=early_stopping_rounds,
        verbose_eval=False,
        callbacks=callbacks,
    )
    best = booster.best_iteration if early_stopping_rounds else booster.num_boosted_rounds() - 1
    booster = booster[: best + 1]  # keep only the trees that are used: SHAP pays for every tree
    seconds = time.perf_counter() - started
    baseline = float(np.average(data.label[train_idx], weights=data.weight[train_idx]))
    metrics = {}
    for name, idx, dmatrix in (("train", train_idx, dtrain), ("validation", valid_idx, dvalid)):
        predicted = np.clip(booster.predict(dmatrix), 0, 100)
        metrics[name] = regression_metrics(data.label[idx], predicted)
        metrics[f"baseline_{name}"] = regression_metrics(data.label[idx], np.full(len(idx), baseline))
    params.update(n_estimators=n_estimators, early_stopping_rounds=early_stopping_rounds)
    return TrainedModel(booster, params, metrics, best, len(train_idx), len(valid_idx), seconds)


def split(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and validation parts, the same for the same rows and seed."""
    order = np.random.default_rng(seed).permutation(rows)
    cut = max(1, int(round(rows * VALIDATION_FRACTION)))
    return np.sort(order[cut:]), np.sort(order[:cut])


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict:
    error = predicted - actual
    total = float(np.sum((actual - actual.mean()) ** 2))
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "r2": 1.0 - float(np.sum(error**2)) / total if total > 0 else 0.0,
    }


def _check_finite(matrix: np.ndarray) -> None:
    infinite = np.isinf(matrix)
    if infinite.any():
        rows = int(infinite.any(axis=1).sum())
        columns = ", ".join(FEATURES[i] for i in np.flatnonzero(infinite.any(axis=0)))
        raise DevtraceError(f"the feature {columns} is infinite in {rows} rows: fix or drop those rows")


def _check_range(label: np.ndarray) -> None:
    outside = label[(label < 0) | (label > 100)]
    if outside.size:
        raise DevtraceError(f"productivity_label must be between 0 and 100 (found {outside[0]:g})")


def _round_callback(xgboost, on_round):
    """An XGBoost callback reporting each finished round (xgboost is imported lazily)."""

    class ReportRound(xgboost.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            on_round(epoch + 1)
            return False

    return ReportRound()

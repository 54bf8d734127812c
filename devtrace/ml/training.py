"""Training: held-out sessions, XGBoost with early stopping, metrics beside two baselines.

A seeded 20% of the sessions (devtrace.ml.evaluation.grouped_split) is held out and never
seen in training: `validation` metrics and the comparison with the mean and the
exit-code-only baseline are measured on it. Early stopping watches another 15% of the
remaining sessions, so the held-out rows choose nothing.

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
from devtrace.ml import defaults, evaluation, xgb
from devtrace.ml.features import FEATURES, build_features, numeric_column

LABEL = "productivity_label"
VALIDATION_FRACTION = 0.2
EARLY_STOPPING_FRACTION = 0.15
SOURCES = ("human", "outcome", "pseudo", "prediction")  # label sources, strongest first
MIN_ROWS = 10
MIN_SESSIONS = 5  # fewer: rows are split instead of whole sessions
# Below this many training rows a boosting round is too small to split between threads:
# waking the second thread costs more than it saves (50k rows: 0.4 s on one, 0.6 s on two).
PARALLEL_FROM_ROWS = 100_000



@dataclass
class TrainingData:
    """Model inputs with their label, sample weight (by label source) and session (the
    split keeps a session whole; None: each row its own)."""

    features: pl.DataFrame
    label: np.ndarray
    weight: np.ndarray
    label_sources: dict = field(default_factory=dict)
    groups: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.label)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        digest.update(",".join(self.features.columns).encode())
        for array in (self.features.to_numpy(), self.label, self.weight):
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        if self.groups is not None:
            digest.update("\0".join(map(str, self.groups)).encode())
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
    return TrainingData(features, label, np.ones(len(label)), {"dataset": len(label)}, _sessions(frame))


def _sessions(frame: pl.DataFrame) -> np.ndarray | None:
    if "session_id" not in frame.columns:
        return None
    return frame.get_column("session_id").cast(pl.String).to_numpy()


def store_training_data(frame: pl.DataFrame, pseudo_weight: float,
                        outcome_weight: float = defaults.OUTCOME_WEIGHT) -> TrainingData:
    """The `training_set` view's rows: features from every event (session context needs
    them all), then the rows that have a label: human labels weigh 1, outcome labels
    `outcome_weight`, pseudo-labels and the events' own scores `pseudo_weight`."""
    for name, value in (("--pseudo-weight", pseudo_weight), ("--outcome-weight", outcome_weight)):
        if not 0 < value <= 1:
            raise DevtraceError(f"{name} must be greater than 0 and at most 1")
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
    kinds = source.to_numpy()
    weight = np.select([kinds == "human", kinds == "outcome"], [1.0, outcome_weight], pseudo_weight)
    found = dict(source.value_counts().iter_rows())
    counts = {name: int(found[name]) for name in SOURCES if name in found}
    groups = _sessions(frame)
    return TrainingData(features.filter(keep), label, weight, counts,
                        None if groups is None else groups[keep.to_numpy()])


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
    """Fit on 80% of the sessions (early stopping on some of them), report on the other 20%."""
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
    groups = split_groups(data.groups)
    train_idx, valid_idx = held_out_split(data, seed)
    fit_idx, stop_idx = _early_stopping_split(train_idx, groups, seed, early_stopping_rounds)
    dmatrix = {
        name: xgboost.DMatrix(matrix[idx], label=data.label[idx], weight=data.weight[idx], feature_names=FEATURES)
        for name, idx in (("train", train_idx), ("validation", valid_idx), ("stop", stop_idx))
    }
    dtrain = xgboost.QuantileDMatrix(
        matrix[fit_idx], label=data.label[fit_idx], weight=data.weight[fit_idx], feature_names=FEATURES
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
        evals=[(dmatrix["stop"], "early_stopping")],
        early_stopping_rounds=early_stopping_rounds,
        verbose_eval=False,
        callbacks=callbacks,
    )
    best = booster.best_iteration if early_stopping_rounds else booster.num_boosted_rounds() - 1
    booster = booster[: best + 1]  # keep only the trees that are used: SHAP pays for every tree
    seconds = time.perf_counter() - started
    baseline = float(np.average(data.label[train_idx], weights=data.weight[train_idx]))
    metrics = {}
    predicted = {}
    for name, idx in (("train", train_idx), ("validation", valid_idx)):
        predicted[name] = np.clip(booster.predict(dmatrix[name]), 0, 100)
        metrics[name] = regression_metrics(data.label[idx], predicted[name])
        metrics[f"baseline_{name}"] = regression_metrics(data.label[idx], np.full(len(idx), baseline))
    exit_class = evaluation.exit_classes(data.features.get_column("exit_class").to_numpy())
    metrics["evaluation"] = evaluation.compare(
        data.label[valid_idx], predicted["validation"], exit_class[valid_idx],
        data.label[train_idx], exit_class[train_idx], data.weight[train_idx],
    )
    metrics["evaluation"]["split"] = "sessions" if groups is not None else "rows"
    params.update(n_estimators=n_estimators, early_stopping_rounds=early_stopping_rounds)
    return TrainedModel(booster, params, metrics, best, len(train_idx), len(valid_idx), seconds)


def split_groups(groups: np.ndarray | None) -> np.ndarray | None:
    """The sessions to split by, or None (split rows) when there are too few sessions to
    hold some out whole."""
    if groups is None or len({g for g in groups if g is not None}) < MIN_SESSIONS:
        return None
    return groups


def held_out_split(data: TrainingData, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (training, held-out) row indices `train` uses for this data and seed."""
    return split(data.rows, seed, split_groups(data.groups))


def split(rows: int, seed: int, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and held-out parts: whole sessions, the same for the same
    rows, sessions and seed."""
    return evaluation.grouped_split(groups, rows, VALIDATION_FRACTION, seed)


def _early_stopping_split(train_idx: np.ndarray, groups: np.ndarray | None, seed: int,
                          rounds: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(rows fitted, rows early stopping watches) within the training part. Without early
    stopping (or too few rows to spare) every training row is fitted and watched."""
    if not rounds or len(train_idx) < 2 * MIN_ROWS:
        return train_idx, train_idx
    inner = None if groups is None else groups[train_idx]
    fit, stop = evaluation.grouped_split(inner, len(train_idx), EARLY_STOPPING_FRACTION, seed + 1)
    return train_idx[fit], train_idx[stop]


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

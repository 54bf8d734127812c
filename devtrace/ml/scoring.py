"""Scoring: a 0-100 prediction per row and its strongest SHAP contribution.

Contributions are exact TreeSHAP, the numbers of XGBoost's `pred_contribs` (and of
`shap.TreeExplainer`), bit for bit: for shallow trees from per-pattern tables
(devtrace.ml.treeshap), otherwise from XGBoost itself. Every batch is checked for local
accuracy: each row's contributions plus the bias add up to the model's raw output, which
XGBoost predicts on its own. The published prediction is that output clipped to 0-100.
"""

import os
from dataclasses import dataclass

import numpy as np
import polars as pl

from devtrace.errors import DevtraceError
from devtrace.ml.features import FEATURES, build_features
from devtrace.ml.registry import Model

SCORE_COLUMNS = ("predicted_productivity", "top_contribution_feature", "top_contribution_value")
CHUNK_ROWS = 50_000
LOCAL_ACCURACY_TOLERANCE = 1e-2  # float32 sums over hundreds of trees
# Below this many (rows × trees) XGBoost's TreeSHAP answers sooner than the tables, whose
# first use in a process loads numba and the compiled loop (about 1.3 s on a busy machine;
# benchmarks/ml.py measured the two equal at 5,000 rows of a 151-tree model, 0.75M), and
# whose first use for a model builds them (0.4 s for 241 trees). Above the measured
# crossover (about three times), so that a batch over the line also pays for building them.
TABLES_FROM_TREE_ROWS = 2_000_000


@dataclass
class Contributions:
    values: np.ndarray  # (rows, features + 1), float32; the last column is the bias
    output: np.ndarray  # the model's raw output per row (XGBoost's plain prediction)
    local_accuracy_error: float  # max |contributions + bias - output|


def explain_rows(model: Model, features: pl.DataFrame, on_rows=None) -> Contributions:
    """SHAP values of every row with the model's output, checked for local accuracy."""
    from devtrace.ml import treeshap, xgb

    xgboost = xgb.load()
    matrix = features.select(FEATURES).to_numpy().astype(np.float32)
    tables = tables_for(model, len(matrix))
    values = np.empty((len(matrix), len(FEATURES) + 1), dtype=np.float32)
    output = np.empty(len(matrix), dtype=np.float32)
    for start in range(0, len(matrix), CHUNK_ROWS):
        rows = slice(start, start + CHUNK_ROWS)
        if tables is None:
            chunk = xgboost.DMatrix(matrix[rows], feature_names=FEATURES)
            values[rows] = model.booster.predict(chunk, pred_contribs=True)
        else:
            values[rows] = treeshap.contributions(tables, matrix[rows], os.cpu_count() or 1)
        output[rows] = model.booster.inplace_predict(matrix[rows], predict_type="margin")
        if on_rows:
            on_rows(min(start + CHUNK_ROWS, len(matrix)))
    error = float(np.max(np.abs(values.sum(axis=1, dtype=np.float64) - output), initial=0.0))
    if error > LOCAL_ACCURACY_TOLERANCE:
        raise DevtraceError(f"SHAP values do not add up to the model's output (off by {error:.4g})")
    return Contributions(values, output, error)


def tables_for(model: Model, rows: int):
    """The engine's tables when they answer `rows` rows of this model sooner than XGBoost,
    else None (small batches, and models the tables do not cover)."""
    from devtrace.ml import treeshap

    if rows * model.booster.num_boosted_rounds() < TABLES_FROM_TREE_ROWS:
        return None
    return treeshap.load_or_build(model.booster, model.sha256, model.tables_file)


def contributions(model: Model, features: pl.DataFrame, on_rows=None) -> np.ndarray:
    """SHAP values, shape (rows, features + 1); the last column is the bias (base value)."""
    return explain_rows(model, features, on_rows).values


def score_columns(model: Model, features: pl.DataFrame, on_rows=None) -> pl.DataFrame:
    """The three score columns for every row of `features`."""
    explained = explain_rows(model, features, on_rows)
    raw = explained.values.sum(axis=1, dtype=np.float64)
    per_feature = explained.values[:, :-1]
    top = np.abs(per_feature).argmax(axis=1)
    return pl.DataFrame(
        {
            "predicted_productivity": np.clip(raw, 0.0, 100.0),
            "top_contribution_feature": pl.Series(FEATURES).gather(top),
            "top_contribution_value": per_feature[np.arange(len(top)), top].astype(np.float64),
        }
    )


def score_frame(model: Model, frame: pl.DataFrame, on_rows=None) -> pl.DataFrame:
    """`frame` with its score columns (added, or replaced if it had them)."""
    scores = score_columns(model, build_features(frame), on_rows)
    return frame.drop([c for c in SCORE_COLUMNS if c in frame.columns]).hstack(scores)

"""Scoring: a 0-100 prediction per row and its strongest SHAP contribution.

Contributions are XGBoost's exact TreeSHAP (`pred_contribs`), the same numbers as
`shap.TreeExplainer`: for every row they sum, with the bias, to the model's raw output.
The published prediction is that output clipped to 0-100.
"""

import numpy as np
import polars as pl

from devtrace.ml.features import FEATURES, build_features
from devtrace.ml.registry import Model

SCORE_COLUMNS = ("predicted_productivity", "top_contribution_feature", "top_contribution_value")
CHUNK_ROWS = 50_000


def contributions(model: Model, features: pl.DataFrame, on_rows=None) -> np.ndarray:
    """SHAP values, shape (rows, features + 1); the last column is the bias (base value)."""
    from devtrace.ml import xgb

    xgboost = xgb.load()
    matrix = features.select(FEATURES).to_numpy()
    out = np.empty((len(matrix), len(FEATURES) + 1), dtype=np.float32)
    for start in range(0, len(matrix), CHUNK_ROWS):
        chunk = xgboost.DMatrix(matrix[start : start + CHUNK_ROWS], feature_names=FEATURES)
        out[start : start + CHUNK_ROWS] = model.booster.predict(chunk, pred_contribs=True)
        if on_rows:
            on_rows(min(start + CHUNK_ROWS, len(matrix)))
    return out


def score_columns(model: Model, features: pl.DataFrame, on_rows=None) -> pl.DataFrame:
    """The three score columns for every row of `features`."""
    shap_values = contributions(model, features, on_rows)
    raw = shap_values.sum(axis=1, dtype=np.float64)
    per_feature = shap_values[:, :-1]
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

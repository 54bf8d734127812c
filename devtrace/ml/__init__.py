"""The ML lifecycle: synthetic bootstrap data, training, a model registry, scoring, SHAP.

Submodules import Polars and XGBoost; `devtrace.ml.autoscore` is the exception that the
capture path may start, and it imports them only when there is something to score.
"""

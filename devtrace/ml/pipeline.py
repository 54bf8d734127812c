"""The lifecycle's steps as library calls (the CLI and the notebooks are thin layers over these)."""

import datetime as dt
import os
import platform

import polars as pl

from devtrace import paths
from devtrace.ml import registry, training
from devtrace.ml.datasets import read_dataset, write_dataset
from devtrace.ml.features import FEATURES, build_features
from devtrace.ml.scoring import score_columns, score_frame

PENDING_WITH_CONTEXT = """
SELECT * FROM events
WHERE scored_at IS NULL
   OR session_id IN (SELECT session_id FROM events WHERE scored_at IS NULL)
ORDER BY executed_at, id
"""


def read_training_set(path=None, *, central: str | None = None) -> pl.DataFrame:
    """Every event of the store (or of the central database) with its blended label (see
    sql/views/30_training_set.sql)."""
    from devtrace import analytics

    return analytics.sql("SELECT * FROM training_set ORDER BY executed_at, id", path=path, central=central)


def train_and_register(
    data: training.TrainingData,
    *,
    source: str,
    path=None,
    out_dir: str | None = None,
    promote: bool | None = None,
    pseudo_weight: float | None = None,
    outcome_weight: float | None = None,
    seed: int = 42,
    on_round=None,
    **params,
) -> dict:
    """Train, store the result as a new registry version, and activate it if asked to (by
    default: when the store has no active model yet). `out_dir` also receives a copy of
    model.json and metadata.json. Returns the version's metadata.

    A version trained on the same data (fingerprint) with the same parameters and weights
    already registered is not trained again: its metadata comes back with `unchanged`."""
    fingerprint = data.fingerprint()
    for earlier in registry.list_versions(path):
        if (earlier.get("data_fingerprint") == fingerprint and earlier.get("seed") == seed
                and earlier.get("requested_params") == params and earlier.get("pseudo_weight") == pseudo_weight
                and earlier.get("outcome_weight") == outcome_weight):
            if promote:
                registry.promote(earlier["version"], path)
            return {**earlier, "unchanged": True, "active": registry.active_version(path) == earlier["version"]}
    trained = training.train(data, seed=seed, on_round=on_round, **params)
    metadata = {
        "version": None,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "source": source,
        "rows": data.rows,
        "train_rows": trained.train_rows,
        "validation_rows": trained.validation_rows,
        "label_sources": data.label_sources,
        "pseudo_weight": pseudo_weight,
        "outcome_weight": outcome_weight,
        "seed": seed,
        "requested_params": params,
        "mae": trained.metrics["validation"]["mae"],
        "metrics": trained.metrics,
        "params": trained.params,
        "trees": trained.best_iteration + 1,
        "features": FEATURES,
        "data_fingerprint": fingerprint,
        "training_seconds": round(trained.seconds, 3),
        "libraries": library_versions(),
    }
    if promote is None:
        promote = registry.active_version(path) is None
    registry.register(trained.booster, metadata, path)
    if promote:
        registry.promote(metadata["version"], path)
    if out_dir:
        registry.write_artifacts(os.fspath(out_dir), trained.booster, metadata)
    return {**metadata, "active": registry.active_version(path) == metadata["version"]}


def score_dataset(model_dir, dataset, out, on_rows=None) -> int:
    """Score every row of a dataset file into `out` (csv or parquet); returns the row count."""
    model = registry.load(model_dir)
    frame = read_dataset(dataset)
    scored = score_frame(model, frame, on_rows)
    write_dataset(scored, out)
    return scored.height


def score_pending_events(path=None, model_dir=None, on_rows=None) -> int:
    """Score the store's unscored events; returns how many were scored.

    Their sessions' earlier events are read too: session features need them.
    """
    from devtrace import analytics
    from devtrace.store import open_store
    from devtrace.store.scores import write_scores

    directory = paths.store_dir(path)
    model = registry.load(model_dir or registry.active_dir(directory))
    frame = analytics.sql(PENDING_WITH_CONTEXT, path=directory)
    pending = frame.get_column("scored_at").is_null()
    if not pending.any():
        return 0
    scores = score_columns(model, build_features(frame).filter(pending), on_rows)
    rows = zip(
        frame.get_column("id").filter(pending),
        scores.get_column("predicted_productivity"),
        scores.get_column("top_contribution_feature"),
        scores.get_column("top_contribution_value"),
        strict=True,
    )
    conn = open_store(directory)
    try:
        return write_scores(conn, rows, model.ref)
    finally:
        conn.close()


def library_versions() -> dict:
    import numpy
    import xgboost

    import devtrace

    return {
        "python": platform.python_version(),
        "devtrace": devtrace.__version__,
        "xgboost": xgboost.__version__,
        "polars": pl.__version__,
        "numpy": numpy.__version__,
    }


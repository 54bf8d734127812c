"""Every model version measured on one evaluation set: the store's held-out sessions.

Metrics a version recorded when it was trained were measured on its own split of its own
data (a synthetic file, the store as it was): side by side they compare nothing. Here each
version predicts the same rows: the events of the store with a human or an outcome label, in
the sessions `ml train --from-store` holds out with the default seed, beside the mean and the
exit-code-only baseline of the other sessions.
"""

import os

import numpy as np
import polars as pl

from devtrace.errors import DevtraceError
from devtrace.ml import defaults, evaluation, registry, training, xgb
from devtrace.ml.features import FEATURES
from devtrace.ml.pipeline import read_training_set

TRUSTED = ("human", "outcome")


def evaluation_set(path=None, seed: int = defaults.SEED) -> tuple[training.TrainingData, np.ndarray, np.ndarray] | None:
    """(data, training rows, held-out rows) over the store's human and outcome labels; None
    when the store has no such label."""
    try:
        frame = read_training_set(path)
    except DevtraceError:
        return None
    if frame.height == 0:
        return None
    trusted = pl.col("label_source").is_in(TRUSTED).fill_null(False)
    frame = frame.with_columns(pl.when(trusted).then(pl.col(training.LABEL)).alias(training.LABEL))
    if frame.get_column(training.LABEL).null_count() == frame.height:
        return None
    data = training.store_training_data(frame, 1.0, 1.0)
    train_idx, held_idx = training.held_out_split(data, seed)
    return data, train_idx, held_idx


def compare_versions(versions: list[dict], path=None) -> tuple[dict[str, dict], str]:
    """Each version's comparison on the common set (by version id), and a sentence saying
    what the set is (or why there is none)."""
    found = evaluation_set(path)
    if found is None:
        return {}, "no common evaluation set: the store has no human or outcome labels yet"
    data, train_idx, held_idx = found
    if len(held_idx) < evaluation.MIN_COMPARE_ROWS:
        return {}, (f"{evaluation.NOT_ENOUGH}: {len(held_idx)} held-out rows with a human or outcome label "
                    f"(fewer than {evaluation.MIN_COMPARE_ROWS})")
    exit_class = evaluation.exit_classes(data.features.get_column("exit_class").to_numpy())
    matrix = xgb.load().DMatrix(data.features[held_idx].select(FEATURES).to_numpy(), feature_names=FEATURES)
    reports = {}
    for version in versions:
        try:
            model = registry.load(os.path.join(registry.versions_dir(path), version["version"]))
        except DevtraceError:
            continue  # features of another DevTrace: it cannot predict these rows
        predicted = np.clip(model.booster.predict(matrix), 0, 100)
        reports[version["version"]] = evaluation.compare(
            data.label[held_idx], predicted, exit_class[held_idx],
            data.label[train_idx], exit_class[train_idx], data.weight[train_idx],
        )
    return reports, (f"all versions on the same {len(held_idx):,} held-out rows (human and outcome labels of the "
                     f"store's held-out sessions)")

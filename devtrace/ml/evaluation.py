"""Held-out evaluation: whole sessions held out, the model beside two baselines.

A session's events share its history (the session features look back in it), so rows of one
session on both sides of a split would let the model see the answer: the split is by session.
The model is compared on the held-out rows with the mean label of the training rows and with
an exit-code-only model (the mean training label of each exit class), by MAE and by rank
correlation (Spearman), overall and within each exit class. Within a class the exit-code
baseline predicts one value and ranks nothing: its rank correlation there is 0.
"""

import numpy as np

from devtrace.ml.features import EXIT_CLASSES

MIN_COMPARE_ROWS = 30
"""Below this many held-out rows a metric says little: "not enough data to compare"."""
NOT_ENOUGH = "not enough data to compare"


def grouped_split(groups: np.ndarray | None, rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (kept, held out): about `fraction` of the rows, as whole groups (sessions;
    a row without one is a group of its own), the same for the same groups and seed."""
    if groups is None:
        groups = np.arange(rows).astype(str)
    keys = np.where(_missing(groups), np.char.add("row:", np.arange(rows).astype(str)), groups.astype(str))
    unique, inverse = np.unique(keys, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    sizes = np.bincount(inverse, minlength=len(unique))[order]
    wanted = max(1, int(round(rows * fraction)))
    taken = np.cumsum(sizes) <= wanted
    taken[0] = True  # at least one group
    if taken.all() and len(unique) > 1:
        taken[-1] = False  # and at least one left to train on
    held = np.zeros(len(unique), dtype=bool)
    held[order[taken]] = True
    held_rows = held[inverse]
    return np.flatnonzero(~held_rows), np.flatnonzero(held_rows)


def _missing(groups: np.ndarray) -> np.ndarray:
    return np.array([g is None or (isinstance(g, float) and np.isnan(g)) for g in groups], dtype=bool)


def rank_correlation(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Spearman's rank correlation (ties share their mean rank); 0 when either side is constant."""
    a, p = _ranks(actual), _ranks(predicted)
    if len(a) < 2 or a.std() == 0 or p.std() == 0:
        return 0.0
    return float(np.corrcoef(a, p)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def exit_classes(features_exit_class: np.ndarray) -> np.ndarray:
    """Exit class codes with unknown (NaN) as -1, so it is a class of its own."""
    return np.where(np.isnan(features_exit_class), -1, features_exit_class).astype(int)


def compare(label: np.ndarray, predicted: np.ndarray, exit_class: np.ndarray,
            train_label: np.ndarray, train_exit_class: np.ndarray, train_weight: np.ndarray) -> dict:
    """The model, the mean and the exit-code-only baseline on the same held-out rows."""
    mean = float(np.average(train_label, weights=train_weight))
    per_class = {c: float(np.average(train_label[train_exit_class == c], weights=train_weight[train_exit_class == c]))
                 for c in np.unique(train_exit_class)}
    by_exit = np.array([per_class.get(c, mean) for c in exit_class])
    baselines = {"model": predicted, "mean": np.full(len(label), mean), "exit_code": by_exit}
    report = {
        "rows": int(len(label)),
        **{name: {"mae": float(np.mean(np.abs(values - label))), "rank": rank_correlation(label, values)}
           for name, values in baselines.items()},
        "by_exit_class": [],
    }
    for c in np.unique(exit_class):
        rows = exit_class == c
        report["by_exit_class"].append({
            "exit_class": EXIT_CLASSES.get(int(c), "unknown"),
            "rows": int(rows.sum()),
            "model_mae": float(np.mean(np.abs(predicted[rows] - label[rows]))),
            "exit_code_mae": float(np.mean(np.abs(by_exit[rows] - label[rows]))),
            "model_rank": rank_correlation(label[rows], predicted[rows]),
            "exit_code_rank": 0.0,
        })
    report["verdict"] = verdict(report)
    return report


def verdict(report: dict) -> str:
    """One sentence: whether the model beats the exit-code-only baseline on these rows."""
    if report["rows"] < MIN_COMPARE_ROWS:
        return f"{NOT_ENOUGH}: {report['rows']} held-out rows (fewer than {MIN_COMPARE_ROWS})"
    model, exit_code = report["model"], report["exit_code"]
    classes = [c for c in report["by_exit_class"] if c["rows"] >= MIN_COMPARE_ROWS]
    losing = [c["exit_class"] for c in classes if c["model_rank"] <= c["exit_code_rank"]]
    if model["mae"] < exit_code["mae"] and model["rank"] > exit_code["rank"] and not losing:
        return "beats the exit-code-only baseline on MAE and on rank correlation (overall and within each exit class)"
    reasons = []
    if model["mae"] >= exit_code["mae"]:
        reasons.append(f"MAE {model['mae']:.2f} vs {exit_code['mae']:.2f}")
    if model["rank"] <= exit_code["rank"]:
        reasons.append(f"rank correlation {model['rank']:.3f} vs {exit_code['rank']:.3f}")
    if losing:
        reasons.append(f"no ranking within {', '.join(losing)}")
    return "does NOT beat the exit-code-only baseline: " + "; ".join(reasons)


def beats_exit_code(report: dict) -> bool:
    return report["verdict"].startswith("beats")

"""Exact TreeSHAP for shallow trees, from tables of every path pattern a tree can see.

A row's TreeSHAP values in one tree depend on the row only through which way it goes at
each split node of that tree. Grouping a tree's splits by feature, that is the bin the
row's value falls in among the tree's thresholds on that feature (or "missing", which
follows each split's default direction, when that pattern differs from every bin's). The
patterns a tree can see are every combination of its features' bins: a depth-3 tree has at
most 2^7 = 128 of them.

`build` computes each tree's contribution vector for each of its patterns once per model,
with XGBoost's own TreeSHAP on one representative input per pattern (on the model sliced to
that one tree), so every table entry is the float32 number XGBoost adds for that tree. The
bias is the same for every row: XGBoost's, for a row with every value missing. Scoring a
row then finds each tree's pattern (float32 comparisons `x < threshold`, as XGBoost makes
them) and adds the table rows in tree order in float32, as XGBoost does: the result is
pred_contribs, bit for bit (and shap.TreeExplainer, which asks XGBoost for the same numbers).

Tables are built from the model alone and cached beside it (`paths.SHAP_TABLES`, keyed by the
sha256 of model.json and the XGBoost version). A model whose tables would exceed MAX_CELLS
(depth 5 and deeper in practice), or that is not a single-output gbtree with numeric splits,
has no tables: its rows go to XGBoost's pred_contribs.
"""

import json
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Table size limit, in float32 cells (one per pattern and feature a tree uses): 64 MiB.
# Measured on 50k-row DevTrace models: depth 3 needs about 0.07M cells, depth 4 about 1.6M,
# depth 5 (0.2.0's parameters) 600M, far beyond what one inference per pattern can build.
MAX_CELLS = 16 * 2**20
FORMAT = 1


class Tables:
    """Per-tree pattern tables of one model, as flat arrays (the kernel's inputs)."""

    ARRAYS = ("tree_ptr", "feature", "stride", "missing_bin", "threshold_ptr", "thresholds",
              "table_ptr", "values", "bias")

    def __init__(self, key: str, features: int, **arrays):
        self.key = key
        self.features = features
        for name in self.ARRAYS:
            setattr(self, name, arrays[name])

    def save(self, file: str) -> None:
        tmp = f"{file}.{os.getpid()}.tmp.npz"
        np.savez(tmp, key=np.array(self.key), features=np.array(self.features),
                 **{name: getattr(self, name) for name in self.ARRAYS})
        os.replace(tmp, file)

    @classmethod
    def read(cls, file: str) -> "Tables | None":
        try:
            with np.load(file) as saved:
                return cls(str(saved["key"]), int(saved["features"]), **{n: saved[n] for n in cls.ARRAYS})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # damaged: built again
            return None


def load_or_build(booster, sha256: str, cache_file: str) -> "Tables | None":
    """The tables of `booster` (whose model.json has this sha256): from the cache when its key
    matches, else built (and cached when the folder is writable). None when the model is not
    one the tables cover."""
    from devtrace.ml import xgb

    key = f"format {FORMAT} · xgboost {xgb.load().__version__} · model.json sha256:{sha256}"
    cached = Tables.read(cache_file) if os.path.isfile(cache_file) else None
    if cached is not None and cached.key == key:
        return cached if cached.tree_ptr.size else None
    tables = build(booster, key)
    try:
        (tables or _empty(key)).save(cache_file)
    except OSError:
        pass  # a read-only model folder: build again next time
    return tables


def _empty(key: str) -> Tables:
    """What the cache holds for a model without tables, so it is not analysed twice."""
    empty = {name: np.zeros(0) for name in Tables.ARRAYS}
    return Tables(key, 0, **empty)


def build(booster, key: str = "") -> "Tables | None":
    """Every tree's pattern tables, or None when the model is not one they cover."""
    from devtrace.ml import xgb

    plans = _plans(booster)
    if plans is None or sum(plan.cells for plan in plans) > MAX_CELLS:
        return None
    features = booster.num_features()
    xgboost = xgb.load()
    tree_ptr, entries, tables = [0], [], []
    for number, plan in enumerate(plans):
        rows = plan.representatives(features)
        one_tree = booster[number : number + 1]
        contribs = one_tree.predict(xgboost.DMatrix(rows, feature_names=booster.feature_names), pred_contribs=True)
        tables.append(np.ascontiguousarray(contribs[:, plan.features], dtype=np.float32).ravel())
        entries.extend(plan.entries)
        tree_ptr.append(len(entries))
    everywhere_missing = np.full((1, features), np.nan, dtype=np.float32)
    bias = booster.predict(xgboost.DMatrix(everywhere_missing, feature_names=booster.feature_names), pred_contribs=True)[0, -1]
    thresholds = [e[3] for e in entries]
    return Tables(
        key,
        features,
        tree_ptr=np.array(tree_ptr, dtype=np.int64),
        feature=np.array([e[0] for e in entries], dtype=np.int64),
        stride=np.array([e[1] for e in entries], dtype=np.int64),
        missing_bin=np.array([e[2] for e in entries], dtype=np.int64),
        threshold_ptr=np.cumsum([0] + [len(t) for t in thresholds], dtype=np.int64),
        thresholds=np.concatenate(thresholds or [np.zeros(0)]).astype(np.float32),
        table_ptr=np.cumsum([0] + [len(t) for t in tables], dtype=np.int64),
        values=np.concatenate(tables or [np.zeros(0)]).astype(np.float32),
        bias=np.array(bias, dtype=np.float32),
    )


def table_cells(booster) -> int | None:
    """How many cells the model's tables need (None: not a model they can cover)."""
    plans = _plans(booster)
    return None if plans is None else sum(plan.cells for plan in plans)


def _plans(booster) -> "list[_Plan] | None":
    trees = _trees(booster)
    return None if trees is None else [_plan(tree) for tree in trees]


def _trees(booster) -> list | None:
    """The trees of a single-output gbtree model with numeric splits only, else None."""
    model = json.loads(booster.save_raw(raw_format="json"))["learner"]
    gbm = model["gradient_booster"]
    if gbm.get("name") != "gbtree" or int(model["learner_model_param"].get("num_target", 1)) != 1:
        return None
    params = gbm["model"]["gbtree_model_param"]
    if int(params.get("num_parallel_tree", 1)) != 1 or len(set(gbm["model"]["tree_info"])) > 1:
        return None
    trees = gbm["model"]["trees"]
    if any(any(tree.get("split_type", [])) for tree in trees):  # categorical splits
        return None
    return trees


class _Plan:
    """One tree's features, their bins and the table layout (patterns in mixed radix)."""

    def __init__(self):
        self.features, self.entries, self.values = [], [], []  # values: representative per bin
        self.patterns = 1

    @property
    def cells(self) -> int:
        return self.patterns * len(self.features)

    def add(self, feature: int, thresholds: np.ndarray, missing_bin: int, representatives: np.ndarray) -> None:
        self.features.append(feature)
        self.entries.append((feature, self.patterns, missing_bin, thresholds))
        self.values.append(representatives)
        self.patterns *= len(representatives)

    def representatives(self, features: int) -> np.ndarray:
        """One input per pattern, pattern p at row p (features the tree does not use: NaN)."""
        rows = np.full((self.patterns, features), np.nan, dtype=np.float32)
        index = np.arange(self.patterns)
        for (feature, stride, _, _), values in zip(self.entries, self.values, strict=True):
            rows[:, feature] = values[(index // stride) % len(values)]
        return rows


def _plan(tree: dict) -> _Plan:
    splits = {}
    for node, left in enumerate(tree["left_children"]):
        if left != -1:
            feature = tree["split_indices"][node]
            splits.setdefault(feature, []).append((np.float32(tree["split_conditions"][node]),
                                                   bool(tree["default_left"][node])))
    plan = _Plan()
    for feature in sorted(splits):
        nodes = splits[feature]
        thresholds = np.unique(np.array([c for c, _ in nodes], dtype=np.float32))
        # A value in bin b (b thresholds at or below it) goes left at threshold t iff t is not among them.
        patterns = [tuple(bool(b <= np.searchsorted(thresholds, c)) for c, _ in nodes)
                    for b in range(len(thresholds) + 1)]
        missing = tuple(left for _, left in nodes)
        values = np.concatenate([[np.nextafter(thresholds[0], np.float32(-np.inf))], thresholds])
        if missing in patterns:
            missing_bin = patterns.index(missing)
        else:
            missing_bin = len(values)
            values = np.append(values, np.float32(np.nan))
        plan.add(feature, thresholds, missing_bin, values.astype(np.float32))
    return plan


def contributions(tables: Tables, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
    """SHAP values of `matrix` rows (compared in float32, as XGBoost does), shape
    (rows, features + 1), the bias last."""
    from devtrace.ml.treeshap_kernel import accumulate

    columns = np.ascontiguousarray(np.asarray(matrix, dtype=np.float32).T)
    out = np.zeros((tables.features + 1, len(matrix)), dtype=np.float32)
    arrays = [getattr(tables, name) for name in Tables.ARRAYS[:-1]]
    cuts = np.linspace(0, len(matrix), max(1, threads) + 1).astype(int)
    shares = [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
    if len(shares) == 1:
        accumulate(columns, out, *shares[0], *arrays)
    elif shares:
        with ThreadPoolExecutor(len(shares)) as pool:
            list(pool.map(lambda share: accumulate(columns, out, *share, *arrays), shares))
    out[-1] = tables.bias
    return np.ascontiguousarray(out.T)

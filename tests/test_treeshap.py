"""The SHAP table engine against XGBoost's own TreeSHAP, on real models trained here."""

import os
import shutil
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtrace import paths
from devtrace.ml import registry, scoring, treeshap, xgb
from devtrace.ml.explain import explain
from devtrace.ml.features import FEATURES, build_features
from tests.ml_support import cli

xgboost = xgb.load()


@pytest.fixture
def model_copy(tmp_path, model_store):
    """The shared store's active model, copied: the engine writes its tables beside it."""
    shutil.copytree(model_store / "model-xgb", tmp_path / "model", ignore=shutil.ignore_patterns("shap-tables*"))
    return tmp_path / "model"


def pred_contribs(booster, matrix: np.ndarray) -> np.ndarray:
    return booster.predict(xgboost.DMatrix(matrix, feature_names=booster.feature_names), pred_contribs=True)


def thresholds_of(booster) -> np.ndarray:
    """Every split value of the model (a value equal to one goes right)."""
    frame = booster.trees_to_dataframe()
    return frame.loc[frame["Feature"] != "Leaf", "Split"].to_numpy(dtype=np.float32)


@st.composite
def models_and_inputs(draw):
    """A small XGBoost model trained on random data with missing values, and inputs to explain:
    fresh random rows, rows sitting exactly on (and just below) split values, rows beyond
    every threshold and a row with every value missing."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    features, rows = draw(st.integers(1, 5)), draw(st.integers(10, 150))
    discrete = draw(st.booleans())  # few distinct values: a feature split at the same place twice

    def sample(n):
        x = rng.normal(size=(n, features)).astype(np.float32)
        if discrete:
            x = np.round(x * 2)
        x[rng.random(x.shape) < missing] = np.nan
        return x

    missing = draw(st.sampled_from([0.0, 0.1, 0.4, 0.8]))
    x = sample(rows)
    y = np.nan_to_num(x[:, 0] * 3 + np.nan_to_num(x[:, -1], nan=2.0) * np.nan_to_num(x[:, 0], nan=-1.0)) + rng.normal(size=rows)
    params = {
        "objective": "reg:squarederror",
        "tree_method": draw(st.sampled_from(["hist", "exact", "approx"])),
        "max_depth": draw(st.integers(1, 4)),
        "learning_rate": draw(st.sampled_from([0.1, 0.5, 1.0])),
        "min_child_weight": draw(st.sampled_from([0.0, 1.0, 5.0])),
        "seed": 0,
        "nthread": 1,
    }
    booster = xgboost.train(params, xgboost.DMatrix(x, label=y), num_boost_round=draw(st.integers(1, 12)))
    on_splits = np.full((len(thresholds_of(booster)), features), np.nan, dtype=np.float32)
    cuts = thresholds_of(booster)
    for column in range(features):
        on_splits[:, column] = rng.permutation(cuts) if len(cuts) else np.nan
    below = np.nextafter(on_splits, np.float32(-np.inf))
    beyond = np.array([[3e38] * features, [-3e38] * features, [1e30] * features, [np.nan] * features], dtype=np.float32)
    return booster, np.concatenate([sample(draw(st.integers(1, 200))), on_splits, below, beyond])


@settings(max_examples=60, deadline=None, derandomize=True, database=None,  # the same 60 cases in every run
          suppress_health_check=[HealthCheck.too_slow])
@given(models_and_inputs(), st.integers(1, 3))
def test_engine_equals_pred_contribs_bit_for_bit(model_and_inputs, threads):
    booster, inputs = model_and_inputs
    tables = treeshap.build(booster)
    assert tables is not None
    assert np.array_equal(treeshap.contributions(tables, inputs, threads), pred_contribs(booster, inputs))


def test_a_single_leaf_model():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    booster = xgboost.train({"min_child_weight": 1e9, "nthread": 1}, xgboost.DMatrix(x, label=np.arange(20.0)), 3)
    assert (booster.trees_to_dataframe()["Feature"] == "Leaf").all()
    tables = treeshap.build(booster)
    inputs = np.array([[1, 2], [np.nan, np.nan], [1e30, -1e30]], dtype=np.float32)
    ours = treeshap.contributions(tables, inputs)
    assert np.array_equal(ours, pred_contribs(booster, inputs))
    assert not ours[:, :-1].any()


def test_devtrace_model_with_unseen_patterns_matches_xgboost_and_shap(dataset, model_store):
    shap = pytest.importorskip("shap")
    model = registry.load(model_store / "model-xgb")
    matrix = build_features(pl.read_csv(dataset)).select(FEATURES).to_numpy().astype(np.float32)[:2000]
    rng = np.random.default_rng(1)
    matrix[rng.random(matrix.shape) < 0.3] = np.nan  # missing far more often than in training
    unseen = np.array([[np.nan] * len(FEATURES), [1e30] * len(FEATURES), [-1e30] * len(FEATURES)], dtype=np.float32)
    matrix = np.concatenate([matrix, unseen])
    ours = treeshap.contributions(treeshap.build(model.booster), matrix, 2)
    assert np.array_equal(ours, pred_contribs(model.booster, matrix))
    explainer = shap.TreeExplainer(model.booster)
    assert np.abs(ours[:, :-1] - explainer.shap_values(matrix)).max() <= 1e-5
    assert abs(ours[0, -1] - explainer.expected_value) <= 1e-5


def test_a_deep_model_is_explained_by_xgboost(tmp_path, dataset):
    """DevTrace 0.2.0's parameters (depth 5): the tables would be far beyond MAX_CELLS."""
    frame = pl.read_csv(dataset)
    features = build_features(frame)
    params = {"max_depth": 5, "learning_rate": 0.06, "min_child_weight": 1.0, "nthread": 1}
    booster = xgboost.train(params, xgboost.DMatrix(features.to_numpy(), label=frame["productivity_label"].to_numpy(),
                                                    feature_names=FEATURES), 280)
    assert treeshap.build(booster) is None
    registry.write_artifacts(str(tmp_path / "deep"), booster, {"version": "v1"})
    model = registry.load(tmp_path / "deep")
    assert scoring.tables_for(model, 10**9) is None
    assert treeshap.Tables.read(model.tables_file).tree_ptr.size == 0  # the verdict is cached too
    assert scoring.tables_for(model, 10**9) is None
    explained = scoring.explain_rows(model, features)
    assert np.array_equal(explained.values, pred_contribs(model.booster, features.to_numpy()))


def test_small_batches_go_to_xgboost_large_ones_to_the_tables(model_copy):
    model = registry.load(model_copy)
    trees = model.booster.num_boosted_rounds()
    assert scoring.tables_for(model, scoring.TABLES_FROM_TREE_ROWS // trees - 1) is None
    assert scoring.tables_for(model, scoring.TABLES_FROM_TREE_ROWS // trees + 1) is not None


def test_scores_and_explanations_are_the_same_with_tables(dataset, model_copy):
    model = registry.load(model_copy)
    trees = model.booster.num_boosted_rounds()
    frame = pl.concat([pl.read_csv(dataset)] * (scoring.TABLES_FROM_TREE_ROWS // (3000 * trees) + 1))
    features = build_features(frame)
    assert features.height * trees >= scoring.TABLES_FROM_TREE_ROWS  # the tables answer
    expected = pred_contribs(model.booster, features.to_numpy())

    scores = scoring.score_columns(model, features)
    assert os.path.isfile(model.tables_file)
    top = np.abs(expected[:, :-1]).argmax(axis=1)
    assert scores["top_contribution_feature"].to_list() == [FEATURES[i] for i in top]
    assert np.array_equal(scores["top_contribution_value"].to_numpy(), expected[np.arange(len(top)), top].astype(np.float64))
    assert np.array_equal(scores["predicted_productivity"].to_numpy(),
                          np.clip(expected.sum(axis=1, dtype=np.float64), 0, 100))

    explanation = explain(model, frame, sample=None, limit=3)
    mean_abs = dict(zip(FEATURES, np.abs(expected[:, :-1]).mean(axis=0).astype(np.float64), strict=True))
    assert dict(explanation.importance.select("feature", "mean_abs_shap").iter_rows()) == mean_abs
    assert explanation.local_accuracy_error < scoring.LOCAL_ACCURACY_TOLERANCE


def test_tables_are_cached_beside_the_model_and_rebuilt_for_another(model_copy, dataset):
    model = registry.load(model_copy)
    built = treeshap.load_or_build(model.booster, model.sha256, model.tables_file)
    written = os.stat(model.tables_file).st_mtime_ns
    cached = treeshap.load_or_build(model.booster, model.sha256, model.tables_file)
    assert os.stat(model.tables_file).st_mtime_ns == written
    assert cached.key == built.key and np.array_equal(cached.values, built.values)

    frame = pl.read_csv(dataset)
    other = xgboost.train({"max_depth": 2, "nthread": 1}, xgboost.DMatrix(
        build_features(frame).to_numpy(), label=frame["productivity_label"].to_numpy(), feature_names=FEATURES), 20)
    registry.write_artifacts(str(model_copy), other, {"version": "v9"})  # as a promotion does
    replaced = registry.load(model_copy)
    rebuilt = treeshap.load_or_build(replaced.booster, replaced.sha256, replaced.tables_file)
    assert rebuilt.key != built.key and replaced.sha256 in rebuilt.key
    matrix = build_features(frame).to_numpy()
    assert np.array_equal(treeshap.contributions(rebuilt, matrix), pred_contribs(other, matrix))


def test_a_damaged_cache_is_built_again(model_copy):
    model = registry.load(model_copy)
    good = treeshap.load_or_build(model.booster, model.sha256, model.tables_file)
    whole = open(model.tables_file, "rb").read()
    for damaged in (b"not a table", whole[: len(whole) // 2]):
        with open(model.tables_file, "wb") as f:
            f.write(damaged)
        again = treeshap.load_or_build(model.booster, model.sha256, model.tables_file)
        assert np.array_equal(again.values, good.values)
        assert treeshap.Tables.read(model.tables_file).key == good.key  # and cached again


def test_small_batches_never_load_the_engine(model_copy, dataset):
    code = (
        "import sys, polars as pl\n"
        "from devtrace.ml.features import build_features\n"
        "from devtrace.ml import registry, scoring\n"
        f"model = registry.load({str(model_copy)!r})\n"
        f"scoring.score_columns(model, build_features(pl.read_csv({str(dataset)!r}).head(50)))\n"
        "print('numba' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert not (model_copy / paths.SHAP_TABLES).exists()


def test_promoting_a_version_brings_its_tables(tmp_path, dataset):
    store = tmp_path / "store"
    cli("ml", "train", "--dataset", str(dataset), "--path", str(store), "--max-depth", "2", cwd=tmp_path)
    cli("ml", "train", "--dataset", str(dataset), "--path", str(store), "--no-promote", cwd=tmp_path)
    version = registry.load(store / "models" / "v2")
    treeshap.load_or_build(version.booster, version.sha256, version.tables_file)
    cli("ml", "promote", "v2", "--path", str(store), cwd=tmp_path)
    active = registry.load(store / "model-xgb")
    assert (store / "model-xgb" / paths.SHAP_TABLES).read_bytes() == (store / "models" / "v2" / paths.SHAP_TABLES).read_bytes()
    assert treeshap.load_or_build(active.booster, active.sha256, active.tables_file).key.endswith(version.sha256)

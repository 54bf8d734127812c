"""Generate → train → score → explain through the real CLI, on small data with real models."""

import json
import shutil

import numpy as np
import polars as pl
import pytest

from devtrace.ml import registry, training
from devtrace.ml.features import FEATURES, build_features
from devtrace.ml.scoring import contributions
from devtrace.ml.synthetic import generate
from tests.ml_support import ROWS, cli, cli_json


def test_generate_is_reproducible_in_csv_and_parquet(tmp_path):
    cli("ml", "generate", "--out", "a.csv", "--rows", "2000", "--seed", "5", cwd=tmp_path)
    cli("ml", "generate", "--out", "b.csv", "--rows", "2000", "--seed", "5", cwd=tmp_path)
    cli("ml", "generate", "--out", "c.parquet", "--rows", "2000", "--seed", "5", cwd=tmp_path)
    cli("ml", "generate", "--out", "d.csv", "--rows", "2000", "--seed", "6", cwd=tmp_path)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    from_csv = pl.read_csv(tmp_path / "a.csv")
    assert from_csv.height == 2000 and "productivity_label" in from_csv.columns
    assert from_csv.equals(pl.read_parquet(tmp_path / "c.parquet"))
    assert not from_csv.equals(pl.read_csv(tmp_path / "d.csv"))


def test_generated_sessions_retry_after_failures_time_out_and_build_long():
    events = generate(20_000, seed=3).sort("session_id", "executed_at")
    following = events.with_columns(
        next_hash=pl.col("command_hash").shift(-1).over("session_id"),
        gap=(pl.col("executed_at").shift(-1) - pl.col("ended_at")).over("session_id"),
    )
    failed = following.filter((pl.col("exit_code") != 0) & pl.col("next_hash").is_not_null())
    succeeded = following.filter((pl.col("exit_code") == 0) & pl.col("next_hash").is_not_null())
    retry_after_failure = (failed["next_hash"] == failed["command_hash"]).mean()
    repeat_after_success = (succeeded["next_hash"] == succeeded["command_hash"]).mean()
    assert retry_after_failure > 0.75 > 0.5 > repeat_after_success
    assert failed["gap"].median() < succeeded["gap"].median()  # retries come quickly
    timeouts = events.filter(pl.col("timed_out") == 1)
    assert timeouts.height > 50 and (timeouts["exit_code"] == 124).all() and (timeouts["duration_ms"] >= 600_000).all()
    long_builds = events.filter((pl.col("program").is_in(["make", "cargo", "go", "gradle", "docker"]))
                                & (pl.col("exit_code") == 0) & (pl.col("duration_ms") > 300_000))
    assert long_builds.height > 20
    assert events["session_id"].n_unique() > 100
    assert events["productivity_label"].is_between(0, 100).all()
    assert events.group_by("session_id").agg(pl.col("executed_at").is_sorted()).get_column("executed_at").all()


def test_train_records_metrics_registry_version_and_out_dir(tmp_path, dataset):
    out = tmp_path / "exported-model"
    metadata = cli_json("ml", "train", "--dataset", str(dataset), "--out-dir", str(out), "--path", "store", cwd=tmp_path)
    assert metadata["version"] == "v1" and metadata["active"] is True
    assert sorted(p.name for p in out.iterdir()) == ["metadata.json", "model.json"]
    assert sorted(p.name for p in (tmp_path / "store" / "models" / "v1").iterdir()) == ["metadata.json", "model.json"]
    assert (tmp_path / "store" / "model-xgb" / "model.json").read_bytes() == (out / "model.json").read_bytes()
    assert metadata["rows"] == ROWS and metadata["train_rows"] + metadata["validation_rows"] == ROWS
    assert metadata["label_sources"] == {"dataset": ROWS}
    assert metadata["features"] == FEATURES
    assert metadata["params"]["max_depth"] == 3 and metadata["params"]["learning_rate"] == 0.15
    assert set(metadata["libraries"]) >= {"python", "xgboost", "polars", "numpy", "devtrace"}
    assert metadata["data_fingerprint"].startswith("sha256:") and metadata["created_at"]
    metrics = metadata["metrics"]
    for part in ("train", "validation", "baseline_train", "baseline_validation"):
        assert set(metrics[part]) == {"mae", "rmse", "r2"}
    assert metadata["mae"] == metrics["validation"]["mae"]
    # The generated labels are outcomes (what followed each event): the model predicts them
    # from what is known at capture time, far better than the mean and than the exit code.
    assert metrics["validation"]["mae"] < metrics["baseline_validation"]["mae"] * 0.7
    assert metrics["validation"]["r2"] > 0.4 and abs(metrics["baseline_validation"]["r2"]) < 0.05
    held = metrics["evaluation"]
    assert held["split"] == "sessions" and held["rows"] == metadata["validation_rows"]
    assert held["model"]["mae"] == pytest.approx(metrics["validation"]["mae"])
    assert held["model"]["mae"] < held["exit_code"]["mae"] < held["mean"]["mae"]
    # 75 sessions are too few for the model to outrank the exit code overall (it does on
    # more: tests/test_ml_outcomes.py); the verdict says which, from the numbers.
    beats = held["model"]["rank"] > held["exit_code"]["rank"]
    assert held["verdict"].startswith("beats" if beats else "does NOT beat"), held["verdict"]

    again = cli_json("ml", "train", "--dataset", str(dataset), "--path", "store", cwd=tmp_path)
    assert again["version"] == "v1" and again["unchanged"] is True  # same data and parameters: no new version
    other = cli_json("ml", "train", "--dataset", str(dataset), "--path", "store", "--seed", "8", cwd=tmp_path)
    assert other["version"] == "v2" and other["active"] is False  # v1 stays active until promoted
    assert other["data_fingerprint"] == metadata["data_fingerprint"]


def test_original_flags_work_verbatim(tmp_path, dataset):
    cli("ml", "train", "--dataset", str(dataset), "--out-dir", "m", "--seed", "1", "--n-estimators", "40",
        "--max-depth", "5", "--learning-rate", "0.06", cwd=tmp_path)
    metadata = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert metadata["params"]["seed"] == 1 and metadata["params"]["max_depth"] == 5
    assert metadata["params"]["learning_rate"] == 0.06 and metadata["trees"] <= 40
    cli("ml", "score", "--model-dir", "m", "--dataset", str(dataset), "--out", "m/scores.csv", cwd=tmp_path)
    scores = pl.read_csv(tmp_path / "m" / "scores.csv")
    assert scores.columns[-3:] == ["predicted_productivity", "top_contribution_feature", "top_contribution_value"]


def test_scores_are_the_model_output_with_its_strongest_contribution(tmp_path, dataset, model_store):
    model_dir = model_store / "model-xgb"
    cli("ml", "score", "--model-dir", str(model_dir), "--dataset", str(dataset), "--out", "s.parquet", cwd=tmp_path)
    scored = pl.read_parquet(tmp_path / "s.parquet")
    source = pl.read_csv(dataset)
    assert scored.height == source.height and scored.columns[: len(source.columns)] == source.columns
    model = registry.load(model_dir)
    features = build_features(source)
    from devtrace.ml import xgb

    raw = model.booster.predict(xgb.load().DMatrix(features.to_numpy(), feature_names=FEATURES))
    predicted = scored["predicted_productivity"].to_numpy()
    assert np.allclose(predicted, np.clip(raw, 0, 100), atol=1e-3)
    assert predicted.min() >= 0 and predicted.max() <= 100
    shap_values = contributions(model, features)[:, :-1]
    top = np.abs(shap_values).argmax(axis=1)
    assert scored["top_contribution_feature"].to_list() == [FEATURES[i] for i in top]
    assert np.allclose(scored["top_contribution_value"].to_numpy(), shap_values[np.arange(len(top)), top], atol=1e-5)
    label = source["productivity_label"].to_numpy()
    by_exit = features.select(pl.col("exit_class").fill_null(-1)).with_columns(label=label)
    exit_only = by_exit.select(pl.col("label").mean().over("exit_class")).to_series().to_numpy()
    assert np.mean(np.abs(predicted - label)) < 0.8 * np.mean(np.abs(exit_only - label))


def test_contributions_equal_shap_tree_explainer_and_add_up(dataset, model_store):
    shap = pytest.importorskip("shap")
    model = registry.load(model_store / "model-xgb")
    features = build_features(pl.read_csv(dataset)).head(500)
    ours = contributions(model, features)
    explainer = shap.TreeExplainer(model.booster)
    theirs = explainer.shap_values(features.to_pandas())
    assert np.allclose(ours[:, :-1], theirs, atol=1e-3)
    assert np.allclose(ours[:, -1], explainer.expected_value, atol=1e-3)
    from devtrace.ml import xgb

    margin = model.booster.predict(xgb.load().DMatrix(features.to_numpy(), feature_names=FEATURES), output_margin=True)
    assert np.allclose(ours.sum(axis=1), margin, atol=1e-3)  # local accuracy


def test_explain_gives_importance_reasons_and_charts(tmp_path, dataset, model_store):
    event = pl.read_csv(dataset)["id"][42]
    result = cli_json("ml", "explain", "--dataset", str(dataset), "--model-dir", str(model_store / "model-xgb"),
                      "--event", event, "--top-k", "2", "--charts", "charts", cwd=tmp_path)
    assert result["model"] == "v1" and result["local_accuracy_error"] < 1e-2
    importance = result["importance"]
    assert {row["feature"] for row in importance} == set(FEATURES)
    assert sum(row["share"] for row in importance) == pytest.approx(1.0)
    assert importance[0]["feature"] == "exit_class"  # the outcome drives the synthetic label most
    reasons = result["reasons"]
    assert [(r["event"], r["rank"]) for r in reasons] == [(event, 1), (event, 2)]
    assert abs(reasons[0]["contribution"]) >= abs(reasons[1]["contribution"])
    for name in ("importance", "reasons"):
        assert (tmp_path / "charts" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        html = (tmp_path / "charts" / f"{name}.html").read_text()
        assert "vega" in html and "cdn.jsdelivr" not in html  # self-contained: opens offline
    text = cli("ml", "explain", "--dataset", str(dataset), "--model-dir", str(model_store / "model-xgb"),
               "--limit", "2", cwd=tmp_path).stdout
    assert "Global importance of v1" in text and "Local accuracy" in text


def test_promote_and_roll_back(tmp_path, dataset):
    store = tmp_path / "store"
    first = cli_json("ml", "train", "--dataset", str(dataset), "--path", str(store), cwd=tmp_path)
    second = cli_json("ml", "train", "--dataset", str(dataset), "--path", str(store), "--max-depth", "2",
                      "--no-promote", cwd=tmp_path)
    assert (first["version"], first["active"], second["version"], second["active"]) == ("v1", True, "v2", False)

    def active():
        versions = cli_json("ml", "models", "--path", str(store), cwd=tmp_path)
        assert [v["version"] for v in versions] == [f"v{n}" for n in range(1, len(versions) + 1)]
        assert sum(v["active"] for v in versions) == 1
        return next(v["version"] for v in versions if v["active"])

    cli("ml", "promote", "v2", "--path", str(store), cwd=tmp_path)
    assert active() == "v2"
    active_model = store / "model-xgb" / "model.json"
    assert active_model.read_bytes() == (store / "models" / "v2" / "model.json").read_bytes()
    assert registry.load(store / "model-xgb").ref == "v2"
    cli("ml", "promote", "v1", "--path", str(store), cwd=tmp_path)
    assert active() == "v1" and registry.load(store / "model-xgb").ref == "v1"
    listing = cli("ml", "models", "--path", str(store), cwd=tmp_path).stdout
    assert "v1" in listing and "v2" in listing and "*" in listing
    third = cli_json("ml", "train", "--dataset", str(dataset), "--path", str(store), "--promote", "--seed", "5",
                     cwd=tmp_path)
    assert third["version"] == "v3" and third["active"] is True and active() == "v3"


def test_training_split_is_seeded_and_disjoint():
    train_a, valid_a = training.split(1000, 3)
    train_b, valid_b = training.split(1000, 3)
    assert np.array_equal(train_a, train_b) and np.array_equal(valid_a, valid_b)
    assert len(valid_a) == 200 and not set(train_a) & set(valid_a) and len(train_a) + len(valid_a) == 1000
    assert not np.array_equal(valid_a, training.split(1000, 4)[1])


def test_a_copied_model_directory_scores_with_its_version(tmp_path, dataset, model_store):
    copy = tmp_path / "elsewhere"
    shutil.copytree(model_store / "model-xgb", copy)
    assert registry.load(copy).ref == "v1"

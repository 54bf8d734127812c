"""The outcome model: generated sessions labelled by the outcomes view, held-out sessions, and
the comparison with the mean and the exit-code-only baseline."""

import shutil

import numpy as np
import polars as pl
import pytest

from devtrace import analytics
from devtrace.ml import evaluation, training
from devtrace.ml.promotion import promotions
from devtrace.ml.synthetic import WORLD_ENDS, generate
from devtrace.store import create_store, insert_event
from tests.ml_support import cli, cli_json
from tests.support import rows


def test_generated_labels_are_the_outcome_view_over_a_real_store(tmp_path):
    frame = generate(2000, seed=3)
    conn = create_store(tmp_path / "store")
    try:
        for row in frame.drop("productivity_label").iter_rows(named=True):
            insert_event(conn, row)
    finally:
        conn.close()
    with analytics.connect(tmp_path / "store") as con:
        con.execute(f"SET VARIABLE outcomes_now = {WORLD_ENDS}")
        view = con.sql("SELECT id, outcome_label, stuck, kept, abandoned, turned_green FROM outcomes").pl()
    joined = frame.join(view, on="id")
    assert joined.height == frame.height and joined["outcome_label"].null_count() == 0
    assert (joined["outcome_label"] == joined["productivity_label"]).all()
    # The process makes every kind of outcome: loops that never pass, changes kept and discarded.
    assert joined["stuck"].sum() > 20 and joined["turned_green"].sum() > 100
    assert joined["kept"].sum() > 20 and joined["abandoned"].sum() > 10


def test_difficult_sessions_are_stuck_more_and_keep_less():
    """The documented process: a session's failure share so far predicts how it ends."""
    frame = generate(20000, seed=4)
    features = training.dataset_training_data(frame).features
    by_share = frame.with_columns(share=features["session_fail_share"]).filter(pl.col("share").is_not_null())
    hard = by_share.filter(pl.col("share") > 0.4)["productivity_label"].mean()
    easy = by_share.filter(pl.col("share") < 0.1)["productivity_label"].mean()
    assert hard < easy - 5


def test_held_out_sessions_are_whole():
    groups = np.array([f"s{i % 37}" for i in range(1000)] + [None] * 50, dtype=object)
    kept, held = evaluation.grouped_split(groups, len(groups), 0.2, seed=1)
    assert len(kept) + len(held) == len(groups) and not set(kept) & set(held)
    assert not {groups[i] for i in kept if groups[i]} & {groups[i] for i in held if groups[i]}
    assert 150 <= len(held) <= 210
    assert np.array_equal(held, evaluation.grouped_split(groups, len(groups), 0.2, seed=1)[1])


@pytest.mark.parametrize("seed", [1, 2])
def test_the_outcome_model_beats_the_exit_code_on_held_out_generated_sessions(seed):
    model = training.train(training.dataset_training_data(generate(20000, seed=seed)))
    held = model.metrics["evaluation"]
    assert held["split"] == "sessions" and held["rows"] > 3000
    assert held["model"]["mae"] < held["exit_code"]["mae"] < held["mean"]["mae"]
    assert held["model"]["rank"] > held["exit_code"]["rank"]
    for c in held["by_exit_class"]:
        if c["rows"] >= evaluation.MIN_COMPARE_ROWS:
            assert c["model_mae"] < c["exit_code_mae"] and c["model_rank"] > 0.2, c
    assert evaluation.beats_exit_code(held)


def test_a_model_that_is_the_exit_code_says_it_does_not_beat_it():
    rng = np.random.default_rng(0)
    exit_class = rng.choice([0, 1], 200)
    label = np.where(exit_class == 0, 70.0, 30.0) + rng.normal(0, 10, 200)
    same_as_exit = np.where(exit_class == 0, 70.0, 30.0)
    report = evaluation.compare(label[100:], same_as_exit[100:], exit_class[100:], label[:100], exit_class[:100],
                                np.ones(100))
    assert report["verdict"].startswith("does NOT beat the exit-code-only baseline")
    assert "no ranking within success, failure" in report["verdict"]
    few = evaluation.compare(label[:20], label[:20], exit_class[:20], label[100:], exit_class[100:], np.ones(100))
    assert few["verdict"] == "not enough data to compare: 20 held-out rows (fewer than 30)"


def test_ml_train_prints_the_model_beside_both_baselines(tmp_path):
    cli("ml", "generate", "--out", "g.parquet", "--rows", "20000", "--seed", "2", cwd=tmp_path)
    out = cli("ml", "train", "--dataset", "g.parquet", "--path", "store", cwd=tmp_path).stdout
    assert "Held-out sessions:" in out and "the model beats the exit-code-only baseline" in out
    mae = {name: float(line.removeprefix(name).split()[0]) for line in out.splitlines()
           for name in ("model", "mean", "exit code") if line.startswith(name + " ")}
    model_mae, exit_mae, mean_mae = mae["model"], mae["exit code"], mae["mean"]
    assert model_mae < exit_mae < mean_mae
    models = cli("ml", "models", "--path", "store", cwd=tmp_path).stdout
    assert "exit MAE" in models and "yes" in models and "no common evaluation set" in models


@pytest.fixture(scope="module")
def outcome_store(tmp_path_factory):
    """Generated sessions written to a real store: the outcomes view labels them."""
    store = tmp_path_factory.mktemp("outcome_store") / "store"
    conn = create_store(store)
    try:
        for row in generate(4000, seed=9).drop("productivity_label").iter_rows(named=True):
            insert_event(conn, row)
    finally:
        conn.close()
    return store


def test_versions_side_by_side_on_one_set_and_a_worse_one_is_not_promoted(outcome_store, tmp_path):
    store = tmp_path / "store"  # a copy: the module's store stays without models
    shutil.copytree(outcome_store, store)
    first = cli_json("ml", "train", "--from-store", "--path", str(store), cwd=tmp_path)
    assert first["label_sources"]["outcome"] > 3000 and first["active"]
    worse = cli_json("ml", "train", "--from-store", "--path", str(store), "--n-estimators", "1", "--max-depth", "1",
                     "--early-stopping-rounds", "0", cwd=tmp_path)
    versions = cli_json("ml", "models", "--path", str(store), cwd=tmp_path)
    common = {v["version"]: v["common_evaluation"] for v in versions}
    assert common["v1"]["rows"] == common["v2"]["rows"] >= 30  # the same rows for both
    assert common["v2"]["model"]["mae"] > common["v1"]["model"]["mae"]
    assert common["v1"]["exit_code"] == common["v2"]["exit_code"]

    cli("ml", "score", "--pending", "--path", str(store), cwd=tmp_path)
    assert {r["model_ref"] for r in rows(store, "SELECT DISTINCT model_ref FROM command_events")} == {"v1"}

    refused = cli("ml", "promote", worse["version"], "--path", str(store), cwd=tmp_path, ok=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "v2 is worse than the active v1 on the common evaluation set" in refused.stderr
    assert cli_json("ml", "models", "--path", str(store), cwd=tmp_path)[0]["active"] is True  # v1 still
    forced = cli("ml", "promote", "v2", "--force", "--wait", "--path", str(store), cwd=tmp_path).stdout
    assert "Active model: v2" in forced and "Every event is scored by v2" in forced
    assert promotions(store)[-1] == {**promotions(store)[-1], "version": "v2", "forced": True}
    assert "worse" in promotions(store)[-1]["reason"]
    # Promoting rescored the store's events with v2, in the background.
    assert "Rescoring 4,000 events with v2 in the background" in forced
    refs = {r["model_ref"]: r["n"] for r in rows(store, "SELECT model_ref, count(*) AS n FROM command_events "
                                                       "WHERE scored_at IS NOT NULL GROUP BY model_ref")}
    assert refs == {"v2": 4000}  # --wait returned once the background scorer was done

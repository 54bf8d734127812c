"""The model and the store: label blending, pending scores, auto-scoring of captured events."""

import fcntl
import json
import os
import shutil
import time

import numpy as np
import polars as pl
import pytest

import devtrace
from devtrace.ml import autoscore, pipeline, training
from devtrace.ml.features import FEATURES
from devtrace.store import open_store
from devtrace.store.scores import write_scores
from tests.ml_support import add_events, cli, cli_json, score_row
from tests.support import devtrace as run_cli
from tests.support import rows


def test_training_labels_blend_human_outcome_pseudo_and_predictions(store):
    ids = add_events(store, 14)  # every 4th fails (1, 5, 9, 13); all but 13 go green later
    unknown = add_events(store, 2, session="ses_quiet", start=1_767_225_600.0 + 3600, exit_code=None)
    devtrace.label(ids[0], 80, by="ana", path=store)
    devtrace.label(ids[0], 90, by="ana", note="second look", path=store)  # the latest label counts
    devtrace.label(ids[1], 40, path=store, source="pseudo")
    devtrace.label(ids[1], 70, by="bo", path=store)  # a human label beats a pseudo-label ...
    devtrace.label(ids[2], 30, path=store, source="pseudo")  # ... and an outcome label beats one
    devtrace.label(unknown[0], 30, path=store, source="pseudo")
    devtrace.label(unknown[0], 35, path=store, source="pseudo")
    conn = open_store(store)
    write_scores(conn, [(i, 50.0 + n, "exit_class", 1.0) for n, i in enumerate([*ids[3:13], unknown[1]])], "v9")
    conn.close()
    # ids[13] failed and has not gone green yet: no outcome, no label, no score. It is not a
    # training row, but its features still come from the whole session.

    frame = pipeline.read_training_set(store)
    outcome = dict(frame.select("id", "outcome_label").iter_rows())
    assert outcome[ids[13]] is None and outcome[unknown[0]] is None and outcome[unknown[1]] is None
    data = training.store_training_data(frame, pseudo_weight=0.25, outcome_weight=0.5)
    assert data.rows == 15
    assert data.label_sources == {"human": 2, "outcome": 11, "pseudo": 1, "prediction": 1}
    assert data.label[:3].tolist() == [90, 70, outcome[ids[2]]]
    assert data.label[2:13].tolist() == [outcome[i] for i in ids[2:13]]
    assert data.label[13:].tolist() == [35, 60]
    assert data.weight.tolist() == [1.0, 1.0] + [0.5] * 11 + [0.25] * 2
    session_rows = training.store_training_data(frame, 1.0).features
    assert session_rows["repeat_count"].to_list()[:6] == [0, 0, 0, 1, 1, 1]

    metadata = cli_json("ml", "train", "--from-store", "--path", str(store), "--pseudo-weight", "0.25",
                        "--outcome-weight", "0.5", cwd=store.parent)
    assert metadata["label_sources"] == {"human": 2, "outcome": 11, "pseudo": 1, "prediction": 1}
    assert metadata["pseudo_weight"] == 0.25 and metadata["outcome_weight"] == 0.5 and metadata["source"] == "store"
    assert metadata["version"] == "v1" and metadata["active"] is True


def test_pseudo_labels_weigh_less_in_training(store):
    """Two conflicting labels of identical events: the model follows the human one."""
    ids = add_events(store, 40)
    for event in ids:
        devtrace.label(event, 90, path=store, source="pseudo")
    for event in ids[::2]:
        devtrace.label(event, 10, by="ana", path=store)
    frame = pipeline.read_training_set(store)
    trusting_humans = training.train(training.store_training_data(frame, 0.05, 0.05), early_stopping_rounds=None,
                                     n_estimators=50)
    equal = training.train(training.store_training_data(frame, 1.0, 1.0), early_stopping_rounds=None, n_estimators=50)
    from devtrace.ml import xgb

    everything = xgb.load().DMatrix(training.store_training_data(frame, 1.0).features.to_numpy(), feature_names=FEATURES)
    assert trusting_humans.booster.predict(everything).mean() < equal.booster.predict(everything).mean() - 10


def test_score_pending_scores_only_unscored_events_with_the_model_version(store, model_store):
    ids = add_events(store, 6)
    conn = open_store(store)
    write_scores(conn, [(ids[0], 12.5, "exit_class", -3.0)], "old")
    conn.close()
    out = cli("ml", "score", "--pending", "--path", str(store), "--model-dir", str(model_store / "model-xgb"),
              cwd=store.parent).stdout
    assert "Scored 5 pending events" in out
    first = score_row(store, ids[0])
    assert (first["predicted_productivity"], first["model_ref"]) == (12.5, "old")  # left alone
    for event in ids[1:]:
        row = score_row(store, event)
        assert row["model_ref"] == "v1" and 0 <= row["predicted_productivity"] <= 100
        assert row["top_contribution_feature"] in FEATURES and row["scored_at"] is not None
    # The same numbers as scoring the exported events as a dataset: no train/serve skew.
    cli("export", "--path", str(store), "--out", "events.csv", cwd=store.parent)
    cli("ml", "score", "--model-dir", str(model_store / "model-xgb"), "--dataset", "events.csv", "--out", "s.csv",
        cwd=store.parent)
    batch = pl.read_csv(store.parent / "s.csv").filter(pl.col("id").is_in(ids[1:])).sort("id")
    stored = [score_row(store, event)["predicted_productivity"] for event in sorted(ids[1:])]
    assert np.allclose(batch["predicted_productivity"].to_numpy(), stored, atol=1e-4)


def wait_for_score(store, event_id, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = score_row(store, event_id)
        if row["scored_at"] is not None:
            return row
        time.sleep(0.2)
    pytest.fail(f"{event_id} was not scored within {seconds:.0f} s")


def test_a_captured_event_is_scored_in_the_background(repo, dataset, tmp_path):
    store = tmp_path / "capture-store"
    cli("ml", "train", "--dataset", str(dataset), "--path", str(store), cwd=tmp_path)  # v1, active
    done = run_cli("run", "--path", str(store), "--", "sh", "-c", "echo more >> a.txt", cwd=repo, text=True)
    assert done.returncode == 0, done.stderr
    event = rows(store)[-1]["id"]
    row = wait_for_score(store, event)
    assert row["model_ref"] == "v1" and 0 <= row["predicted_productivity"] <= 100
    assert row["top_contribution_feature"] in FEATURES
    assert not (store / "autoscore.log").exists()


def test_events_right_after_a_capture_shows_its_score(repo, model_store, tmp_path):
    store = tmp_path / "s"
    done = run_cli("run", "--path", str(store), "--model-dir", str(model_store / "model-xgb"), "--",
                   "sh", "-c", "echo x >> b.txt; exit 1", cwd=repo, text=True)
    assert done.returncode == 1
    # No active model in this store: the run's --model-dir scored it, in the background.
    event = rows(store)[-1]["id"]
    assert wait_for_score(store, event)["model_ref"] == "v1"
    (store / "model-xgb").mkdir()
    for name in ("model.json", "metadata.json"):
        (store / "model-xgb" / name).write_bytes((model_store / "model-xgb" / name).read_bytes())
    run_cli("run", "--path", str(store), "--", "sh", "-c", "echo y >> b.txt", cwd=repo, check=True)
    listed = cli_json("events", "--path", str(store), "--limit", "5", cwd=repo)
    assert len(listed) == 2 and all(e["predicted_productivity"] is not None for e in listed)
    assert listed[-1]["top_contribution_feature"] in FEATURES and listed[-1]["model_ref"] == "v1"


def test_without_a_model_capture_records_and_scores_stay_null(repo, tmp_path):
    store = tmp_path / "plain"
    run_cli("run", "--path", str(store), "--", "sh", "-c", "echo z >> a.txt", cwd=repo, check=True)
    listed = cli_json("events", "--path", str(store), cwd=repo)
    assert len(listed) == 1 and listed[0]["predicted_productivity"] is None and listed[0]["scored_at"] is None


def test_events_does_not_wait_forever_for_a_busy_scorer(repo, model_store, tmp_path):
    """A scorer stuck on the lock: `devtrace events` waits a bounded time, then lists the event unscored."""
    store = tmp_path / "busy"
    shutil.copytree(model_store / "model-xgb", store / "model-xgb")
    lock = os.open(store / "scoring.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # what a scorer at work holds
    try:
        run_cli("run", "--path", str(store), "--", "sh", "-c", "echo w >> a.txt", cwd=repo, check=True)
        started = time.monotonic()
        listed = run_cli("events", "--path", str(store), "--json", cwd=repo, text=True)
        waited = time.monotonic() - started
    finally:
        os.close(lock)
    assert listed.returncode == 0, listed.stderr
    assert autoscore.READER_WAIT_SECONDS <= waited < autoscore.READER_WAIT_SECONDS + 20
    assert "another scorer is still at work" in listed.stderr
    assert [e["predicted_productivity"] for e in json.loads(listed.stdout)] == [None]
    after = cli_json("events", "--path", str(store), cwd=repo)  # the lock is free again: this reader scores
    assert after[0]["model_ref"] == "v1" and after[0]["predicted_productivity"] is not None


def test_ml_score_pending_waits_for_the_scoring_lock(model_store, store):
    """A scorer at work holds the lock: `ml score --pending` must not score beside it."""
    ids = add_events(store, 3)
    lock = os.open(store / "scoring.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        done = cli("ml", "score", "--pending", "--path", str(store), "--model-dir", str(model_store / "model-xgb"),
                   cwd=store.parent, ok=False)
        unscored = [score_row(store, event)["scored_at"] for event in ids]
    finally:
        os.close(lock)
    assert done.returncode == 1 and "another scorer is still at work" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and unscored == [None] * 3
    out = cli("ml", "score", "--pending", "--path", str(store), "--model-dir", str(model_store / "model-xgb"),
              cwd=store.parent).stdout
    assert "Scored 3 pending events" in out


def test_export_scores_pending_events_first(model_store, store):
    shutil.copytree(model_store / "model-xgb", store / "model-xgb")
    ids = add_events(store, 4)  # written without a capture: nothing has scored them yet
    cli("export", "--path", str(store), "--out", "events.csv", cwd=store.parent)
    exported = pl.read_csv(store.parent / "events.csv")
    assert sorted(exported["id"]) == sorted(ids)
    assert exported["predicted_productivity"].null_count() == 0 and set(exported["model_ref"]) == {"v1"}


def test_features_see_a_sessions_events_in_executed_at_then_id_order(model_store, store):
    """Two events of a session at the same instant, written in the reverse order of their ids:
    scoring and training both take them by id, as the events view lists them."""
    from devtrace.ml import registry
    from devtrace.ml.scoring import score_frame
    from tests.analytics_support import JAN_1, build_store, event

    build_store(store, [
        event(JAN_1, id="evt_b", exit_code=0),
        event(JAN_1, id="evt_a", exit_code=1),
        event(JAN_1 + 60, id="evt_c", exit_code=0),
    ])
    assert [r["id"] for r in rows(store, "SELECT id FROM command_events ORDER BY rowid")] == ["evt_b", "evt_a", "evt_c"]
    assert pipeline.read_training_set(store)["id"].to_list() == ["evt_a", "evt_b", "evt_c"]

    model = registry.load(model_store / "model-xgb")
    frame = devtrace.events(path=store)
    by_id, by_rowid = score_frame(model, frame), score_frame(model, frame[[1, 0, 2]])
    assert by_id.sort("id")["predicted_productivity"].to_list() != by_rowid.sort("id")["predicted_productivity"].to_list()
    cli("ml", "score", "--pending", "--path", str(store), "--model-dir", str(model_store / "model-xgb"), cwd=store.parent)
    stored = [score_row(store, event_id)["predicted_productivity"] for event_id in ("evt_a", "evt_b", "evt_c")]
    assert np.allclose(stored, by_id["predicted_productivity"].to_numpy(), atol=1e-4)

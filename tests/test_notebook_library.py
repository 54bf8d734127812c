"""The package functions behind the notebooks: event filter, labeling queue, undo, candidate review."""

import datetime as dt
import os

import numpy as np
import pytest

from devtrace import analytics
from devtrace.analytics.filters import filter_events
from devtrace.errors import DevtraceError
from devtrace.ml import registry, training, xgb
from devtrace.ml.candidate_review import (
    compare_on_validation,
    compare_with_active,
    labeled_after,
    load_training,
    shap_dependence,
)
from devtrace.ml.features import FEATURES
from devtrace.ml.labeling_queue import labeling_queue, session_context
from devtrace.ml.pipeline import train_and_register
from devtrace.store.label_undo import retract_label
from devtrace.store.labels import label
from tests.analytics_support import DAY, JAN_1, build_store, event
from tests.notebook_support import insert_synthetic_sessions
from tests.support import rows


@pytest.fixture
def small_store(tmp_path):
    return build_store(tmp_path / "store", [
        event(JAN_1, id="a1", agent_id="claude", program="pytest", exit_code=1),
        event(JAN_1 + 60, id="a2", agent_id="claude", program="make"),
        event(JAN_1 + DAY, id="b1", agent_id="codex", program="pytest"),
        event(JAN_1 + 2 * DAY, id="n1", agent_id=None, program="git"),
    ])


def test_filter_narrows_every_view_and_can_be_changed(small_store):
    with analytics.connect(small_store) as con:
        filter_events(con, agents=["claude"])
        assert con.sql("SELECT sum(commands), sum(failures) FROM daily_activity").fetchone() == (2, 1)
        filter_events(con, programs=["pytest"], days=(dt.date(2024, 1, 2), dt.date(2024, 1, 3)))
        assert con.sql("SELECT agent_id, commands FROM agent_summary").fetchall() == [("codex", 1)]
        filter_events(con, agents=[None, "codex"])
        assert sorted(r[0] for r in con.sql("SELECT id FROM events").fetchall()) == ["b1", "n1"]
        filter_events(con)
        assert con.sql("SELECT count(*) FROM events").fetchone() == (4,)


def test_filter_quotes_its_values(small_store):
    with analytics.connect(small_store) as con:
        filter_events(con, agents=["o'brien"])
        assert con.sql("SELECT count(*) FROM command_stats").fetchone() == (0,)


def test_queue_puts_the_event_unlike_the_labeled_ones_first(tmp_path):
    usual = [event(JAN_1 + i * 10, id=f"u{i}", session_id=f"s{i}", duration_ms=100) for i in range(8)]
    odd = event(JAN_1 + 100, id="odd", session_id="s9", duration_ms=3_600_000, exit_code=1, delta_lines_added=900)
    store = build_store(tmp_path / "store", [*usual, odd])
    label("u0", 60, path=store)
    label("u1", 62, path=store)
    queue = labeling_queue(analytics.events(path=store))
    assert queue["id"][0] == "odd" and queue.height == 7
    assert queue["uncertainty"].null_count() == queue.height
    assert set(queue["features"].struct.fields) == set(FEATURES)
    assert labeling_queue(analytics.events(path=store), pool=3)["id"].to_list()[0] == "odd"


def test_queue_ranks_by_uncertainty_too_when_a_model_is_given(tmp_path):
    frame = insert_synthetic_sessions(tmp_path / "store", rows=300, seed=3)
    version = train_and_register(training.dataset_training_data(frame), source="test", path=tmp_path / "store",
                                 n_estimators=30)["version"]
    model = registry.load(registry.active_dir(tmp_path / "store"))
    queue = labeling_queue(analytics.events(path=tmp_path / "store"), model.booster)
    assert version == "v1" and queue.height == 300
    assert (queue["uncertainty"] >= 0).all() and queue["uncertainty"].max() > 0
    both = queue["priority"].to_numpy()
    assert np.all(np.diff(both) <= 0) and 0 <= both.min() and both.max() <= 1


def test_session_context_is_the_events_session_or_the_event_alone(tmp_path):
    store = build_store(tmp_path / "store", [
        event(JAN_1, id="s1a", session_id="s1"),
        event(JAN_1 + 10, id="s2a", session_id="s2"),
        event(JAN_1 + 20, id="s1b", session_id="s1", exit_code=1),
        event(JAN_1 + 30, id="lone", session_id=None),
        event(JAN_1 + 40, id="lone2", session_id=None),
    ])
    events = analytics.events(path=store)
    by_id = {row["id"]: row for row in events.iter_rows(named=True)}
    assert session_context(events, by_id["s1b"])["id"].to_list() == ["s1a", "s1b"]
    assert session_context(events, by_id["lone"])["id"].to_list() == ["lone"]


def test_undo_takes_back_only_the_newest_human_label(small_store):
    first = label("a1", 40, path=small_store)
    second = label("a1", 70, path=small_store)
    with pytest.raises(DevtraceError, match="superseded"):
        retract_label(first, path=small_store)
    assert retract_label(second, path=small_store) == "a1"
    assert [r["value"] for r in rows(small_store, "SELECT value FROM labels")] == [40.0]
    pseudo = label("a2", 50, source="pseudo", path=small_store)
    with pytest.raises(DevtraceError, match="only human labels"):
        retract_label(pseudo, path=small_store)
    with pytest.raises(DevtraceError, match="no label 999"):
        retract_label(999, path=small_store)


def test_candidate_review_on_a_store(tmp_path):
    store = tmp_path / "store"
    frame = insert_synthetic_sessions(store, rows=400, seed=5)
    with pytest.raises(DevtraceError, match="no event has a human label"):
        load_training(store, "human")
    for row in frame.head(12).iter_rows(named=True):
        label(row["id"], row["productivity_label"], path=store)
    _, human = load_training(store, "human")
    assert human.label_sources == {"human": 12} and human.rows == 12
    _, blend = load_training(store, "blend", 0.5)
    outcome = analytics.sql("SELECT count(*) AS n FROM training_set WHERE label_source = 'outcome'", path=store)["n"][0]
    assert outcome > 300  # what followed each event labels most of them
    assert blend.label_sources == {"human": 12, "outcome": outcome}  # nothing scored yet: no pseudo-labels
    with pytest.raises(DevtraceError, match="unknown label mix"):
        load_training(store, "everything")

    metadata = train_and_register(blend, source="test", path=store, n_estimators=20, seed=1)
    model = registry.load(registry.active_dir(store))
    table = compare_on_validation(blend, 1, {"v1": model})
    assert table["model"].to_list() == ["v1", "mean predictor (baseline)"]
    # The very rows training held out: the same count and the same error as training measured.
    assert table["validation_rows"].to_list() == [metadata["validation_rows"]] * 2
    assert table["mae"].to_list() == pytest.approx(
        [metadata["metrics"]["validation"]["mae"], metadata["metrics"]["baseline_validation"]["mae"]], rel=1e-5
    )
    dependence = shap_dependence(model, blend.features, sample=5)
    assert dependence.height == 5 * len(FEATURES) and set(dependence["feature"]) == set(FEATURES)


def train_candidate(data, store, seed: int) -> registry.Model:
    version = train_and_register(data, source="test", path=store, promote=False, n_estimators=20, seed=seed)["version"]
    return registry.load(os.path.join(registry.versions_dir(store), version))


def test_candidate_is_compared_with_the_active_model_on_labels_given_after_it(tmp_path):
    store = tmp_path / "store"
    frame = insert_synthetic_sessions(store, rows=400, seed=5)
    for row in frame.head(30).iter_rows(named=True):
        label(row["id"], row["productivity_label"], path=store)
    _, data = load_training(store, "human")
    train_and_register(data, source="test", path=store, promote=True, n_estimators=20, seed=1)
    active = registry.load(registry.active_dir(store))

    # Every label is one the active model may have trained on: it is left out, and that is said.
    training_frame, data = load_training(store, "human")
    candidate = train_candidate(data, store, seed=3)
    table, said = compare_with_active(training_frame, data, 3, candidate, active)
    assert table["model"].to_list() == ["candidate v2", "mean predictor (baseline)"]
    assert table["validation_rows"][0] == 6 and said.startswith("all 6 validation rows held out from the candidate")
    assert "active v1 is left out" in said

    for row in frame[30:90].iter_rows(named=True):  # given a moment after v1 was created
        label(row["id"], row["productivity_label"], path=store)
    training_frame, data = load_training(store, "human")
    candidate = train_candidate(data, store, seed=3)
    table, said = compare_with_active(training_frame, data, 3, candidate, active)
    ids = training_frame.filter(training_frame["productivity_label"].is_not_null())["id"].to_list()
    new_ids = set(frame[30:90]["id"])
    held_out = training.held_out_split(data, 3)[1]
    compared = [i for i in held_out if ids[i] in new_ids]
    assert 0 < len(compared) < len(held_out)
    assert table["model"].to_list() == ["candidate v3", "active v1", "mean predictor (baseline)"]
    assert table["validation_rows"][0] == len(compared)
    assert said.startswith(f"the {len(compared)} of the {len(held_out)} validation rows held out from the candidate")
    assert "after active v1 was created" in said and said.endswith("rows whose human label neither model saw")
    matrix = xgb.load().DMatrix(data.features[compared].select(FEATURES).to_numpy(), feature_names=FEATURES)
    active_error = np.mean(np.abs(np.clip(active.booster.predict(matrix), 0, 100) - data.label[compared]))
    assert table.filter(table["model"] == "active v1")["mae"][0] == pytest.approx(active_error, rel=1e-5)


def test_a_label_given_a_moment_after_a_model_was_created_counts_as_given_after_it(tmp_path):
    store = tmp_path / "store"
    frame = insert_synthetic_sessions(store, rows=200, seed=5)
    for row in frame.head(10).iter_rows(named=True):
        label(row["id"], row["productivity_label"], path=store)
    _, data = load_training(store, "human")
    created_at = train_and_register(data, source="test", path=store, promote=True, n_estimators=5)["created_at"]
    assert len(created_at.partition("+")[0].partition(".")[2]) == 6  # kept to the microsecond
    label(frame["id"][10], 50, path=store)  # well within the second v1 was created in
    training_frame, _ = load_training(store, "human")
    after = labeled_after(training_frame, dt.datetime.fromisoformat(created_at))
    labeled = training_frame.filter(training_frame["productivity_label"].is_not_null())["id"]
    assert [event for event, later in zip(labeled, after, strict=True) if later] == [frame["id"][10]]

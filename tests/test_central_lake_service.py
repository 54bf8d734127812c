"""The lake through the product's doors: `devtrace server flush|maintain|retention|erase`, the
flush on a timer inside a real `devtrace server`, the admin API, and `devtrace ml score --central`."""

import json
import time

import duckdb
import pytest

from devtrace.analytics import connect
from devtrace.central import models
from devtrace.central.db import open_central
from devtrace.central.lake import ingest_tables
from devtrace.errors import DevtraceError
from devtrace.ml.synthetic import generate
from tests import central_support
from tests.test_central_lake import ingestion_totals, lake_totals, push, same


def test_server_verbs_flush_maintain_retain_and_erase(central_url, tmp_path):
    frame = generate(2000, seed=11)
    push(central_url, frame[:1200], "alice", labels_every=10)
    push(central_url, frame[1200:], "bob", labels_every=10)
    done = central_support.run_cli("server", "flush", "--db", central_url, "--lake-data", str(tmp_path / "lake"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Flushed 2,000 events, 200 labels and 0 scores" in done.stdout
    assert same(lake_totals(central_url), ingestion_totals(central_url))

    done = central_support.run_cli("server", "maintain", "--db", central_url, "--keep-hours", "0", cwd=tmp_path)
    assert done.returncode == 0 and "data files" in done.stdout, done.stderr

    done = central_support.run_cli("server", "erase", "--machine", "bob", "--db", central_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Erased 800 events and 80 labels of bob" in done.stdout
    assert ingest_tables.audit_rows(central_url)[-1][:2] == ("erase", "bob")
    assert ingest_tables.audit_rows(central_url)[-1][2].startswith("cli:")

    done = central_support.run_cli("server", "retention", "--days", "1", "--db", central_url, cwd=tmp_path)  # 2026-01/02: all old
    assert done.returncode == 0, done.stderr
    assert "Removed 1,200 events and 120 labels" in done.stdout
    with connect(central=central_url) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0

    done = central_support.run_cli("server", "retention", "--days", "0", "--db", central_url, cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr


def test_the_server_flushes_on_a_timer_and_admins_govern_through_the_api(central_url, tmp_path, server_factory):
    server = server_factory(central_url, "--flush-every", "1", "--lake-data", str(tmp_path / "lake"))
    push(central_url, generate(500, seed=12), "alice", labels_every=5)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if lake_totals(central_url)[0] == 500:
                break
        except (DevtraceError, duckdb.Error):  # no lake, or no tables in it, yet
            pass
        time.sleep(0.5)
    assert same(lake_totals(central_url), ingestion_totals(central_url))

    ingest, admin = central_support.make_token(central_url, "alice"), central_support.make_token(central_url, "carol", "admin")
    status, _, _ = central_support.call(server.address, "POST", "/v1/admin/erase", token=ingest, body={"machine": "alice"})
    assert status == 403
    status, _, _ = central_support.call(server.address, "POST", "/v1/admin/erase", body={"machine": "alice"})
    assert status == 401
    assert lake_totals(central_url)[0] == 500  # refused requests removed nothing
    status, answer, _ = central_support.call(server.address, "POST", "/v1/admin/erase", token=admin, body={"machine": "alice"})
    assert (status, answer) == (200, {"events": 500, "labels": 100})
    assert ingest_tables.audit_rows(central_url)[-1][:3] == ("erase", "alice", "carol")
    status, answer, _ = central_support.call(server.address, "POST", "/v1/admin/retention", token=admin, body={"days": 30})
    assert (status, answer) == (200, {"events": 0, "labels": 0})
    status, _, _ = central_support.call(server.address, "POST", "/v1/admin/retention", token=admin, body={"days": 0})
    assert status == 422


@pytest.fixture
def approved(central_url, tmp_path):
    """A small real model trained locally, published to and approved on the central store."""
    from devtrace.ml.pipeline import train_and_register
    from devtrace.ml.registry import active_dir
    from devtrace.ml.training import dataset_training_data

    train_and_register(dataset_training_data(generate(3000, seed=13)), source="lake test", path=tmp_path / "store",
                       promote=True, n_estimators=20, max_depth=3, learning_rate=0.3)
    folder = active_dir(tmp_path / "store")
    with open(f"{folder}/model.json", encoding="utf-8") as f:
        model_json = f.read()
    with open(f"{folder}/metadata.json", encoding="utf-8") as f:
        metadata = json.load(f)
    db = open_central(central_url)
    try:
        models.publish(db, "central.v1", model_json, metadata, models.sha256(model_json), "carol")
        models.approve(db, "central.v1", "carol")
    finally:
        db.close()
    return "central.v1"


def test_central_scoring_writes_scores_through_the_flush(central_url, tmp_path, approved):
    frame = generate(1500, seed=14)  # synthetic events carry no score
    push(central_url, frame[:1000], "alice")
    assert central_support.run_cli("server", "flush", "--db", central_url, "--lake-data", str(tmp_path / "lake"), cwd=tmp_path).returncode == 0
    push(central_url, frame[1000:], "bob")  # these stay in the tail

    done = central_support.run_cli("ml", "score", "--central", central_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Scored 1,500 central events" in done.stdout
    again = central_support.run_cli("ml", "score", "--central", central_url, cwd=tmp_path)
    assert "Scored 0 central events" in again.stdout  # pending scores are not scored twice
    with connect(central=central_url) as con:
        assert con.execute("SELECT count(*) FROM events WHERE scored_at IS NOT NULL").fetchone()[0] == 0

    done = central_support.run_cli("server", "flush", "--db", central_url, cwd=tmp_path)
    assert "500 events, 0 labels and 1,500 scores" in done.stdout, done.stdout + done.stderr
    with connect(central=central_url) as con:
        scored = con.execute("SELECT count(*), count(DISTINCT model_ref), min(model_ref), "
                             "min(predicted_productivity) >= 0 AND max(predicted_productivity) <= 100 "
                             "FROM events WHERE scored_at IS NOT NULL").fetchone()
        assert scored == (1500, 1, approved, True)
        pending = con.execute("SELECT sum(e.predicted_productivity - s.predicted_productivity) FROM events AS e "
                              "JOIN central_db.event_scores AS s ON s.event_id = e.id").fetchone()[0]
        assert pending == pytest.approx(0, abs=1e-6)


def test_central_scores_name_their_event_by_machine_and_id(central_url, tmp_path, approved):
    """Two machines push events with the same ids (bob's ran ten times longer): each machine's
    event gets its own score row and, after the flush, its own score."""
    import polars as pl

    frame = generate(300, seed=15)
    push(central_url, frame, "alice")
    push(central_url, frame.with_columns(pl.col("duration_ms") * 10), "bob")
    done = central_support.run_cli("ml", "score", "--central", central_url, cwd=tmp_path)
    assert done.returncode == 0 and "Scored 600 central events" in done.stdout, done.stdout + done.stderr
    assert "Scored 0 central events" in central_support.run_cli("ml", "score", "--central", central_url,
                                                                cwd=tmp_path).stdout
    done = central_support.run_cli("server", "flush", "--db", central_url, "--lake-data", str(tmp_path / "lake"),
                                   cwd=tmp_path)
    assert done.returncode == 0 and "600 scores" in done.stdout, done.stdout + done.stderr
    with connect(central=central_url) as con:
        assert con.execute("SELECT count(*), count(DISTINCT (machine, event_id)) FROM central_db.event_scores"
                           ).fetchone() == (600, 600)
        differ = con.execute("SELECT count(*) FILTER (WHERE e.predicted_productivity = s.predicted_productivity), "
                             "count(*) FROM events AS e JOIN central_db.event_scores AS s "
                             "ON s.event_id = e.id AND s.machine = e.machine").fetchone()
        assert differ == (600, 600)
        apart = con.execute("SELECT count(*) FROM events AS a JOIN events AS b ON a.id = b.id "
                            "WHERE a.machine = 'alice' AND b.machine = 'bob' "
                            "AND a.predicted_productivity <> b.predicted_productivity").fetchone()[0]
        assert apart > 0  # the two machines' same-id events were scored apart

"""`devtrace doctor`: each check finds what is wrong with a real store and says what to do;
the exit status is 1 when something is a problem, and the doctor itself changes nothing."""

import json
import os
import shutil
import sqlite3

import pytest

from tests.ml_support import add_events, cli
from tests.test_store import make_v020_store


def doctor(store, ok=True):
    done = cli("doctor", "--path", str(store), "--json", cwd=store.parent, ok=False)
    assert done.returncode == (0 if ok else 1), done.stdout + done.stderr
    assert done.stderr == ""
    report = json.loads(done.stdout)
    assert report["healthy"] is ok
    return {c["name"]: c for c in report["checks"]}


@pytest.fixture(scope="module")
def healthy_template(tmp_path_factory, dataset):
    store = tmp_path_factory.mktemp("doctor") / "store"
    add_events(store, 12)
    cli("ml", "train", "--dataset", str(dataset), "--path", str(store), "--n-estimators", "5", cwd=store.parent)
    cli("ml", "score", "--pending", "--path", str(store), cwd=store.parent)
    return store


@pytest.fixture
def healthy(tmp_path, healthy_template):
    """A store with 12 scored events and an active model (a copy for each test to damage)."""
    return shutil.copytree(healthy_template, tmp_path / "store")


def test_a_healthy_store(healthy):
    checks = doctor(healthy)
    assert {name: c["status"] for name, c in checks.items()} == {
        "integrity": "ok", "schema": "ok", "journal": "ok", "privacy": "ok", "key": "ok", "model": "ok", "scores": "ok",
    }
    assert "active model v1 loads" in checks["model"]["detail"]
    human = cli("doctor", "--path", str(healthy), cwd=healthy.parent).stdout
    assert human.splitlines()[0].split() == ["ok", "integrity", "SQLite", "integrity", "check", "passed"]


def test_a_damaged_database(healthy):
    db = healthy / "devtrace.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with open(db, "r+b") as f:  # scribble over the last page (an index or table page)
        f.seek((pages - 1) * 4096)
        f.write(b"\xa5" * 4096)
    checks = doctor(healthy, ok=False)
    store_check = checks.get("integrity") or checks["store"]
    assert store_check["status"] == "problem" and "backup" in store_check["action"]


def test_a_lost_key(healthy):
    (healthy / "hash.key").unlink()
    key = doctor(healthy, ok=False)["key"]
    assert key["status"] == "problem" and key["detail"] == f"{healthy / 'hash.key'} is missing"
    assert f"devtrace key rotate --path {healthy}" in key["action"]
    assert not (healthy / "hash.key").exists()


def test_an_older_store_is_reported_not_migrated(tmp_path):
    old = tmp_path / "old"
    make_v020_store(old)
    os.chmod(old / "devtrace.db", 0o600)  # a store of 0.2.0 was made readable by all: the privacy check says so
    checks = doctor(old)
    assert checks["schema"]["status"] == "note" and checks["schema"]["detail"].startswith("migration level 0,")
    conn = sqlite3.connect(old / "devtrace.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()


def test_a_model_that_does_not_load(healthy):
    (healthy / "model-xgb" / "model.json").write_text("{not json")
    model = doctor(healthy, ok=False)["model"]
    assert model["status"] == "problem" and "not a readable XGBoost model" in model["detail"]
    assert "devtrace ml promote" in model["action"]


def test_pending_scores_and_a_failing_scorer(healthy):
    add_events(healthy, 2, session="ses_late")
    scores = doctor(healthy)["scores"]
    assert scores["status"] == "note" and scores["detail"] == "2 events wait for a score"
    (healthy / "autoscore.log").write_text("2026-11-26T10:00:00 DevtraceError: the model broke\n")
    scores = doctor(healthy, ok=False)["scores"]
    assert scores["status"] == "problem" and scores["detail"].endswith("DevtraceError: the model broke")
    assert scores["action"].startswith("devtrace ml score --pending")


def test_a_store_others_can_read(healthy):
    os.chmod(healthy / "devtrace.db", 0o644)
    privacy = doctor(healthy, ok=False)["privacy"]
    assert privacy["status"] == "problem" and privacy["action"] == f"chmod 600 {healthy / 'devtrace.db'}"


@pytest.mark.parametrize("case", ["missing", "foreign", "not sqlite"])
def test_no_usable_store(tmp_path, case):
    store = tmp_path / "store"
    if case != "missing":
        store.mkdir()
        if case == "foreign":
            conn = sqlite3.connect(store / "devtrace.db")
            conn.execute("CREATE TABLE invoices (id INTEGER)")
            conn.close()
        else:
            (store / "devtrace.db").write_bytes(b"not a database" * 100)
    checks = doctor(store, ok=False)
    assert list(checks) == ["store"] and checks["store"]["action"]
    if case != "missing":
        assert sorted(p.name for p in store.iterdir()) == ["devtrace.db"]

"""Central models: publish, approve, pull, score a captured event; roll back; train on the central store."""

import json
import shutil
import sqlite3
import time

from devtrace.central.models import sha256
from tests.central_support import call, make_token, run_cli
from tests.ml_support import add_events


def ok(*args, cwd, **kwargs):
    done = run_cli(*args, cwd=cwd, **kwargs)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def enrolled_copy(model_store, tmp_path, name, address, token):
    store = tmp_path / name
    shutil.copytree(model_store, store)
    ok("init", "--path", str(store), cwd=tmp_path)
    ok("sync", "login", "--server", address, "--token", token, "--path", str(store), cwd=tmp_path)
    return store


def wait_scored(store, event_id: str, timeout: float = 120) -> sqlite3.Row:
    deadline = time.monotonic() + timeout
    while True:
        conn = sqlite3.connect(store / "devtrace.db")
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM command_events WHERE id = ?", (event_id,)).fetchone()
        conn.close()
        if row["scored_at"] is not None or time.monotonic() > deadline:
            return row
        time.sleep(0.2)


def test_model_approved_pulled_and_scoring_a_captured_event(central_url, server_factory, model_store, tmp_path, repo):
    server = server_factory(central_url)
    lab = enrolled_copy(model_store, tmp_path, "lab", server.address, make_token(central_url, "lab", "admin"))
    worker = tmp_path / "worker"
    ok("init", "--path", str(worker), cwd=tmp_path)
    ok("sync", "login", "--server", server.address, "--token", make_token(central_url, "worker"), "--path", str(worker),
       cwd=tmp_path)

    published = ok("ml", "publish", "v1", "--path", str(lab), cwd=tmp_path)
    assert "published as lab.v1" in published.stdout
    assert "already on the server" in ok("ml", "publish", "v1", "--path", str(lab), cwd=tmp_path).stdout
    nothing = run_cli("ml", "pull", "--path", str(worker), cwd=tmp_path)
    assert nothing.returncode == 1 and "no model has been approved yet" in nothing.stderr

    approved = ok("server", "models", "approve", "lab.v1", "--by", "ana", "--db", central_url, cwd=tmp_path)
    assert "lab.v1 is the organisation's active model" in approved.stdout
    pulled = ok("ml", "pull", "--path", str(worker), cwd=tmp_path)
    assert "Pulled lab.v1: registered as v1 and active" in pulled.stdout
    metadata = json.loads((worker / "model-xgb" / "metadata.json").read_text())
    assert metadata["central_version"] == "lab.v1" and metadata["approved_by"] == "ana"
    assert metadata["central_sha256"] == sha256((lab / "models" / "v1" / "model.json").read_text())
    again = ok("ml", "pull", "--path", str(worker), cwd=tmp_path)
    assert "already the active model" in again.stdout and not (worker / "models" / "v2").exists()

    captured = ok("run", "--keep-noop", "--path", str(worker), "--", "echo", "hello", cwd=repo)
    event_id = captured.stderr.strip().rsplit("recorded ", 1)[1]
    row = wait_scored(worker, event_id)
    assert row["model_ref"] == "v1" and 0 <= row["predicted_productivity"] <= 100


def test_versions_listed_with_metrics_and_approvals_and_rollback(central_url, server_factory, model_store, tmp_path):
    server = server_factory(central_url)
    admin = make_token(central_url, "lab", "admin")
    lab = enrolled_copy(model_store, tmp_path, "lab", server.address, admin)
    ok("ml", "publish", "v1", "--path", str(lab), cwd=tmp_path)
    model_json = (lab / "models" / "v1" / "model.json").read_text()
    upload = {"version": "other.v9", "model_json": model_json, "metadata": {"metrics": {"validation": {"mae": 1.5}}},
              "sha256": sha256(model_json)}
    assert call(server.address, "POST", "/v1/models", token=admin, body=upload)[0] == 201
    assert call(server.address, "POST", "/v1/models", token=admin, body={**upload, "sha256": "0" * 64})[0] == 409
    reader = make_token(central_url, "analyst", "read")
    assert call(server.address, "POST", "/v1/models", token=reader, body=upload)[0] == 403
    assert call(server.address, "POST", "/v1/models/other.v9/approve", token=reader)[0] == 403

    for version in ("lab.v1", "other.v9"):
        assert call(server.address, "POST", f"/v1/models/{version}/approve", token=admin)[0] == 200
    status, active, headers = call(server.address, "GET", "/v1/model/active", token=reader)
    assert status == 200 and active["version"] == "other.v9" and headers["etag"] == f'"{sha256(model_json)}"'
    assert call(server.address, "GET", "/v1/model/active", token=reader, headers={"If-None-Match": headers["etag"]})[0] == 304
    ok("server", "models", "approve", "lab.v1", "--by", "ana", "--db", central_url, cwd=tmp_path)  # roll back
    assert call(server.address, "GET", "/v1/model/active", token=reader)[1]["version"] == "lab.v1"

    listed = json.loads(ok("server", "models", "list", "--json", "--db", central_url, cwd=tmp_path).stdout)
    by_version = {m["version"]: m for m in listed}
    assert by_version["lab.v1"]["active"] and not by_version["other.v9"]["active"]
    assert [a["approved_by"] for a in by_version["lab.v1"]["approvals"]] == ["lab", "ana"]
    assert by_version["other.v9"]["metrics"]["validation"]["mae"] == 1.5
    assert "mae" in by_version["lab.v1"]["metrics"]["validation"]
    table = ok("server", "models", "list", "--db", central_url, cwd=tmp_path).stdout
    assert "lab.v1" in table and "other.v9" in table


def test_train_on_the_central_store_and_publish(central_url, server_factory, model_store, tmp_path):
    server = server_factory(central_url)
    worker = tmp_path / "worker"
    ids = add_events(worker, 60, session="ses_wk01", start=time.time() - 7200)
    conn = sqlite3.connect(worker / "devtrace.db")
    conn.executemany("INSERT INTO labels (event_id, value, source, labeled_by, created_at) VALUES (?, ?, 'human', 'ana', ?)",
                     [(event_id, float(10 + i % 80), time.time()) for i, event_id in enumerate(ids)])
    conn.commit()
    conn.close()
    ok("sync", "login", "--server", server.address, "--token", make_token(central_url, "worker"), "--path", str(worker),
       cwd=tmp_path)
    ok("sync", "--path", str(worker), cwd=tmp_path)

    lab = enrolled_copy(model_store, tmp_path, "lab", server.address, make_token(central_url, "lab", "admin"))
    trained = json.loads(ok("ml", "train", "--central", central_url, "--no-promote", "--json", "--path", str(lab),
                            cwd=tmp_path).stdout)
    assert trained["version"] == "v2" and trained["published_as"] == "lab.v2"
    assert trained["label_sources"] == {"human": 60} and trained["source"].startswith("central:")
    listed = json.loads(ok("server", "models", "list", "--json", "--db", central_url, cwd=tmp_path).stdout)
    assert [m["version"] for m in listed] == ["lab.v2"]

    outsider = tmp_path / "outsider"
    ok("init", "--path", str(outsider), cwd=tmp_path)
    refused = run_cli("ml", "train", "--central", central_url, "--path", str(outsider), cwd=tmp_path)
    assert refused.returncode == 1 and "not enrolled" in refused.stderr

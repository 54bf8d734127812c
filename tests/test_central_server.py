"""`devtrace server` as a real process over SQLite and PostgreSQL: ingestion, tokens, hostile input."""

import time

import pytest

from tests.central_support import (
    call,
    central_count,
    make_token,
    run_cli,
)


def event(n: int, at: float | None = None, **fields) -> dict:
    return {"id": f"evt_{n:012x}", "executed_at": time.time() if at is None else at, "command_hash": "c" * 64,
            "duration_ms": 120, "exit_code": 0, "timed_out": 0, "agent_id": "codex", **fields}


def batch(address: str, token: str, events: list, **extra):
    return call(address, "POST", "/v1/telemetry/batch", token=token, body={"events": events, **extra})


def test_batches_are_idempotent_and_attributed_to_the_token(central_url, server_factory):
    token = make_token(central_url, "laptop-1")
    server = server_factory(central_url)
    before = time.time()
    status, answer, _ = batch(server.address, token, [event(1), event(2, machine="spoofed", future_field=1), event(2)])
    assert status == 200, answer
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 1, [])
    assert before <= answer["received_at"] <= time.time()
    status, answer, _ = batch(server.address, token, [event(1), event(2), event(3)])
    assert (answer["accepted"], answer["duplicates"]) == (1, 2)
    assert central_count(central_url) == 3
    assert central_count(central_url, "SELECT count(DISTINCT machine) FROM command_events WHERE machine = 'laptop-1'") == 1
    received = central_count(central_url, "SELECT min(received_at) FROM command_events")
    assert before <= received <= time.time()


def test_each_bad_event_is_rejected_with_its_reason_and_the_rest_stored(central_url, server_factory):
    token = make_token(central_url, "m")
    server = server_factory(central_url)
    now = time.time()
    bad = [
        {"id": "evt_missing000"},                                       # missing fields
        event(11, duration_ms="slow"),                                  # wrong type
        event(12, exit_code=2**40),                                     # out of range for the column
        event(13, agent_id="nul\x00byte"),                              # not storable text
        event(14, at=now + 3 * 86400),                                  # clock two days ahead
        event(15, at=now - 400 * 86400),                                # older than the server keeps
        event(16, program="x" * 10_000),                                # too long
        "not an object",
    ]
    status, answer, _ = batch(server.address, token, [event(10, at=now + 3600), *bad])
    assert status == 200
    assert answer["accepted"] == 1 and answer["duplicates"] == 0
    reasons = {r["id"]: r["reason"] for r in answer["rejected"]}
    assert len(answer["rejected"]) == len(bad)
    assert "Field required" in reasons["evt_missing000"]
    assert "duration_ms" in reasons[event(11)["id"]]
    assert "future" in reasons[event(14)["id"]] and "clock" in reasons[event(14)["id"]]
    assert "older than 365 days" in reasons[event(15)["id"]]
    assert reasons[None].startswith("event:") or "object" in reasons[None] or "dict" in reasons[None]
    assert central_count(central_url) == 1


def test_whole_request_failures_are_final_4xx_and_store_nothing(central_url, server_factory):
    token = make_token(central_url, "m")
    server = server_factory(central_url, "--max-body-mb", "8")
    status, answer, _ = batch(server.address, token, [event(1)], schema_version=99)
    assert status == 400 and "unsupported schema version 99" in answer["detail"]
    status, _, _ = call(server.address, "POST", "/v1/telemetry/batch", token=token, raw=b"{not json")
    assert status == 422
    status, _, _ = call(server.address, "POST", "/v1/telemetry/batch", token=token, body={"events": "many"})
    assert status == 422
    huge = b'{"events": [' + b",".join([b'{"id": "evt_x", "pad": "' + b"x" * 1000 + b'"}'] * 10_500) + b"]}"
    assert len(huge) > 10 * 1024 * 1024
    status, answer, _ = call(server.address, "POST", "/v1/telemetry/batch", token=token, raw=huge)
    assert status == 413 and "smaller batches" in answer["detail"]
    assert central_count(central_url) == 0
    status, answer, _ = call(server.address, "GET", "/v1/health")
    assert status == 200 and answer["status"] == "ok"


def test_tokens_missing_wrong_scope_revoked_expired(central_url, server_factory, tmp_path):
    ingest = make_token(central_url, "machine-a")
    reader = make_token(central_url, "analyst", scope="read")
    short = make_token(central_url, "short-lived", expires_in=1.0)
    server = server_factory(central_url)
    assert batch(server.address, None, [event(1)])[0] == 401
    assert batch(server.address, "dt_" + "x" * 43, [event(1)])[0] == 401
    status, answer, _ = batch(server.address, reader, [event(1)])
    assert status == 403 and "scope is read" in answer["detail"]
    assert call(server.address, "GET", "/v1/models", token=ingest)[0] == 403
    assert call(server.address, "GET", "/v1/models", token=reader)[0] == 200
    assert batch(server.address, ingest, [event(2)])[0] == 200
    done = run_cli("server", "token", "revoke", "machine-a", "--db", central_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert batch(server.address, ingest, [event(3)])[0] == 401  # the very next request
    time.sleep(1.1)
    assert batch(server.address, short, [event(4)])[0] == 401
    assert central_count(central_url) == 1
    listed = run_cli("server", "token", "list", "--db", central_url, cwd=tmp_path)
    assert "revoked" in listed.stdout and "expired" in listed.stdout and ingest not in listed.stdout
    assert ingest not in central_dump(central_url)


def central_dump(url: str) -> str:
    from tests.central_support import open_central

    db = open_central(url)
    try:
        with db.transaction(write=False) as tx:
            return repr(tx.execute("SELECT * FROM tokens"))
    finally:
        db.close()


def test_labels_are_idempotent_and_need_their_event(central_url, server_factory):
    token = make_token(central_url, "m")
    server = server_factory(central_url)
    batch(server.address, token, [event(1)])
    label = {"event_id": event(1)["id"], "client_label_id": 7, "value": 80, "source": "human",
             "labeled_by": "ana", "created_at": time.time()}
    orphan = {**label, "event_id": "evt_nowhere", "client_label_id": 8}
    status, answer, _ = call(server.address, "POST", "/v1/labels/batch", token=token, body={"labels": [label, orphan]})
    assert status == 200
    assert answer["accepted"] == 1
    assert answer["rejected"] == [{"id": "evt_nowhere#8", "reason": "event evt_nowhere is not among this machine's events on the server"}]
    status, answer, _ = call(server.address, "POST", "/v1/labels/batch", token=token, body={"labels": [label]})
    assert (answer["accepted"], answer["duplicates"]) == (0, 1)
    assert central_count(central_url, "SELECT count(*) FROM labels WHERE machine = 'm'") == 1


def test_cli_refuses_bad_input_in_one_sentence(tmp_path):
    done = run_cli("server", "token", "create", "--name", "x y", "--db", str(tmp_path / "c.db"), cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("devtrace: a token name is") and "Traceback" not in done.stderr
    done = run_cli("server", "token", "create", "--name", "x", "--expires", "soon", "--db", str(tmp_path / "c.db"),
                   cwd=tmp_path)
    assert done.returncode == 1 and "--expires takes a duration" in done.stderr
    done = run_cli("server", "--db", str(tmp_path / "missing" / "c.db"), cwd=tmp_path)
    assert done.returncode == 1 and "does not exist" in done.stderr
    done = run_cli("server", "--db", "postgresql://nobody@127.0.0.1:1/none", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("devtrace: cannot connect to postgresql://nobody@")


@pytest.mark.parametrize("scope", ["admin"])
def test_admin_token_may_do_everything(central_url, server_factory, scope):
    token = make_token(central_url, "root", scope=scope)
    server = server_factory(central_url)
    assert batch(server.address, token, [event(1)])[0] == 200
    assert call(server.address, "GET", "/v1/models", token=token)[0] == 200
    assert call(server.address, "GET", "/v1/model/active", token=token)[0] == 404


def test_hostile_text_is_refused_not_stored(central_url, server_factory):
    admin = make_token(central_url, "root", scope="admin")
    server = server_factory(central_url)
    assert call(server.address, "POST", "/v1/models/a%00b/approve", token=admin)[0] == 422
    upload = {"version": "v1", "model_json": "{\u0000}", "metadata": {}, "sha256": "0" * 64}
    assert call(server.address, "POST", "/v1/models", token=admin, body=upload)[0] == 422
    assert call(server.address, "POST", "/v1/models", token=admin, body={**upload, "model_json": "\udcff"})[0] == 422
    assert call(server.address, "POST", "/v1/admin/erase", token=admin, body={"machine": "a\u0000b"})[0] == 422
    status, answer, _ = batch(server.address, admin, [event(1, session_id="\udcff")])  # not Unicode: not JSON text
    assert status == 422 and "not valid JSON" in answer["detail"]
    status, answer, _ = batch(server.address, admin, [event(2, agent_id="a\u0000b"), event(3)])
    assert (status, answer["accepted"], answer["rejected"][0]["id"]) == (200, 1, event(2)["id"])
    assert central_count(central_url) == 1

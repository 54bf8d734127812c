"""How the central service fails: a database it cannot reach is a 503 that names nothing, a bug
is a 500 the client does not retry, and a token is checked before the database when it can be."""

import json
import logging
import socket
import subprocess
import sys
import time

import psycopg
import pytest

from devtrace.central import db as central_db
from devtrace.central import server as central_server
from devtrace.central.db import open_central
from tests.central_support import Proxy, call, central_count, make_token, run_cli
from tests.support import devtrace_env
from tests.test_central_server import batch, event
from tests.test_central_sync import add_events, login


def _refuse_connections(url: str, refuse: bool) -> None:
    """The database stops (or starts again) taking connections, and loses the ones it had:
    what a server restart or a network cut looks like from the service."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if refuse else "true"}')
        if refuse:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            deadline = time.monotonic() + 10  # pg_terminate_backend only signals: wait until they are gone
            while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]).fetchone()[0] \
                    and time.monotonic() < deadline:
                time.sleep(0.05)


@pytest.mark.postgres
def test_database_down_is_503_generic_and_tokens_are_checked_first(postgres_url, server_factory, tmp_path, monkeypatch):
    token = make_token(postgres_url, "laptop")
    monkeypatch.setattr(central_db, "POOL_WAIT_SECONDS", 0.5)  # each 503 after half a second, not 5 s
    server = server_factory(postgres_url)  # in this process: the service's pool takes the setting above
    status, answer, _ = call(server.address, "GET", "/v1/health")
    assert (status, answer["status"], answer["database"]) == (200, "ok", "ok")
    _refuse_connections(postgres_url, True)
    try:
        status, answer, headers = batch(server.address, token, [event(1)])
        assert status == 503, answer
        assert int({k.lower(): v for k, v in headers.items()}["retry-after"]) > 0
        text = json.dumps(answer)
        assert answer["detail"] == "the central database is unavailable; retry later"
        for secret in ("postgres", "127.0.0.1", postgres_url.rsplit("/", 1)[1], str(postgres_url.split(":")[2][:4])):
            assert secret not in text
        # no token, or one that cannot be a token: 401 without asking the database
        assert batch(server.address, None, [event(1)])[0] == 401
        assert batch(server.address, "not-a-devtrace-token", [event(1)])[0] == 401
        status, answer, headers = call(server.address, "GET", "/v1/health")
        assert (status, answer["status"], answer["database"]) == (503, "unavailable", "unavailable")
        assert "postgres" not in json.dumps(answer) and "retry-after" in {k.lower() for k in headers}
    finally:
        _refuse_connections(postgres_url, False)
    deadline = time.monotonic() + 30  # the pool reconnects with a backoff: the service comes back by itself
    while call(server.address, "GET", "/v1/health")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert call(server.address, "GET", "/v1/health")[0] == 200
    status, answer, _ = batch(server.address, token, [event(1)])
    assert (status, answer["accepted"]) == (200, 1)


@pytest.mark.postgres
def test_sync_waits_out_a_database_outage(postgres_url, server_factory, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(central_db, "POOL_WAIT_SECONDS", 0.5)  # each 503 after half a second, not 5 s
    monkeypatch.setattr(central_server, "RETRY_AFTER_SECONDS", "1")  # which the client waits, not 5 s
    server = server_factory(postgres_url)  # in this process: the settings above are its own, its 503s logged here
    store = tmp_path / "store"
    add_events(store, 300, "o")
    login(store, server.address, make_token(postgres_url, "m"), tmp_path)
    _refuse_connections(postgres_url, True)
    pushing = subprocess.Popen([sys.executable, "-m", "devtrace", "sync", "--path", str(store)], cwd=tmp_path,
                               env=devtrace_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    with caplog.at_level(logging.WARNING, logger="devtrace.central"):
        while not [r for r in caplog.records if ": 503, " in r.getMessage()]:  # the push met the outage
            assert pushing.poll() is None and time.monotonic() < deadline, "the push did not meet the outage"
            time.sleep(0.05)
    _refuse_connections(postgres_url, False)
    out, err = pushing.communicate(timeout=120)
    assert pushing.returncode == 0, err
    assert "events: 300 sent, 300 accepted" in out
    assert central_count(postgres_url) == 300


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_bug_is_500_and_not_retried(backend, tmp_path, server_factory, request):
    url = str(tmp_path / "central.db") if backend == "sqlite" else request.getfixturevalue("postgres_url")
    admin = make_token(url, "root", scope="admin")
    token = make_token(url, "laptop")
    db = open_central(url)
    try:  # a row this code cannot read (written by hand, or by a future version): a bug to fix, not an outage
        with db.transaction() as tx:
            tx.execute("INSERT INTO models (version, sha256, model_json, metadata_json, published_by, published_at)"
                       " VALUES ('v1', ?, '{}', 'not json', 'root', 0)", ("0" * 64,))
            tx.execute("INSERT INTO model_approvals (version, approved_by, approved_at) VALUES ('v1', 'root', 0)")
    finally:
        db.close()
    server = server_factory(url)
    status, answer, headers = call(server.address, "GET", "/v1/model/active", token=admin)
    assert status == 500 and "retry-after" not in {k.lower() for k in headers} and "bug" in answer["detail"]
    store = tmp_path / "store"
    add_events(store, 1, "b")
    proxy = Proxy(server.port)
    login(store, proxy.address, token, tmp_path)
    proxy.seen.clear()
    proxy.plan = [(500, {})]
    started = time.monotonic()
    done = run_cli("ml", "pull", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 1 and "failed (500" in done.stderr and "Traceback" not in done.stderr
    assert len(proxy.seen) == 1 and time.monotonic() - started < 30
    proxy.close()


def test_stalled_bodies_time_out_and_a_disconnect_is_one_line(tmp_path, server_factory):
    url = str(tmp_path / "central.db")
    token = make_token(url, "laptop")
    server = server_factory(url, "--body-timeout", "1", process=True)
    head = (f"POST /v1/telemetry/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"events\": [").encode()
    stalled = []
    for _ in range(40):
        conn = socket.create_connection(("127.0.0.1", server.port))
        conn.sendall(head)
        stalled.append(conn)
    started = time.monotonic()
    for conn in stalled:
        conn.settimeout(30)
        answer = conn.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        conn.close()
    assert time.monotonic() - started < 20
    gone = socket.create_connection(("127.0.0.1", server.port))
    gone.sendall(head)
    gone.close()  # the client goes away mid-body
    time.sleep(0.5)
    assert call(server.address, "GET", "/v1/health")[0] == 200
    server.stop()
    log = server.process.stderr.read()
    assert "Traceback" not in log, log[:2000]
    assert len([line for line in log.splitlines() if "408" in line or "disconnected" in line]) == 41, log
    assert central_count(url) == 0


def test_partial_headers_time_out_while_a_normal_client_is_served(tmp_path, server_factory):
    """Slowloris: 300 connections each send part of a request's headers and stall. Each is
    answered 408 and closed within the header timeout (plus the machine's slack), and a
    normal request meanwhile gets its answer at once."""
    url = str(tmp_path / "central.db")
    server = server_factory(url, "--header-timeout", "4")  # room for the 1 s pause of `kept` on a loaded machine
    stalled = []
    for n in range(300):
        conn = socket.create_connection(("127.0.0.1", server.port))
        conn.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" if n % 2 else b"POST /v1/telemetry/ba")
        stalled.append(conn)
    opened = time.monotonic()
    assert call(server.address, "GET", "/v1/health")[0] == 200
    assert time.monotonic() - opened < 4  # served before the stalled ones time out
    for conn in stalled:
        conn.settimeout(30)
        answer = conn.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert conn.recv(4096) == b""  # and closed
        conn.close()
    assert time.monotonic() - opened < 20
    idle = socket.create_connection(("127.0.0.1", server.port))  # nothing sent at all: closed too
    idle.settimeout(30)
    assert idle.recv(4096).startswith(b"HTTP/1.1 408") and idle.recv(4096) == b""
    idle.close()
    kept = socket.create_connection(("127.0.0.1", server.port))  # a slow but complete request is served
    kept.sendall(b"GET /v1/health HTTP/1.1\r\n")
    time.sleep(1)
    kept.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
    kept.settimeout(30)
    assert kept.recv(4096).startswith(b"HTTP/1.1 200")
    kept.close()
    server.stop()
    log = server.process.stderr.read()
    assert "Traceback" not in log, log[:2000]
    assert len([line for line in log.splitlines() if "headers did not arrive within 4 s" in line]) == 301, log[-2000:]


def test_no_interactive_docs_from_a_cdn(tmp_path, server_factory):
    server = server_factory(str(tmp_path / "central.db"))
    for route in ("/docs", "/redoc"):
        assert call(server.address, "GET", route)[0] == 404
    status, schema, _ = call(server.address, "GET", "/openapi.json")
    assert status == 200 and "/v1/telemetry/batch" in schema["paths"]

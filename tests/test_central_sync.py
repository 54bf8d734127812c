"""`devtrace sync` from real stores to a real server: nothing lost, nothing doubled."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest

from devtrace.errors import DevtraceError
from devtrace.store import create_store, insert_event
from devtrace.store.label_undo import retract_label
from devtrace.sync import client
from tests.central_support import (
    Proxy,
    central_count,
    make_token,
    run_cli,
)
from tests.support import devtrace_env, rows


def add_events(store, count: int, prefix: str, at: float | None = None) -> None:
    start = time.time() - 3600 if at is None else at
    conn = create_store(store)
    try:
        for i in range(count):
            insert_event(conn, {"id": f"evt_{prefix}{i:08x}", "agent_id": "codex", "executed_at": start + i * 0.01,
                                "command_hash": "d" * 64, "duration_ms": 10, "exit_code": i % 3 == 0, "timed_out": 0,
                                "started_at": start + i * 0.01, "ended_at": start + i * 0.01 + 0.01,
                                "session_id": f"ses_{prefix}", "program": "make"})
    finally:
        conn.close()


def login(store, address: str, token: str, cwd) -> None:
    done = run_cli("sync", "login", "--server", address, "--token", token, "--path", str(store), cwd=cwd)
    assert done.returncode == 0, done.stderr


def sync(store, cwd, ok: bool = True) -> subprocess.CompletedProcess:
    done = run_cli("sync", "--path", str(store), cwd=cwd)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def synced(store) -> int:
    return rows(store, "SELECT count(*) AS n FROM event_sync WHERE status = 'synced'")[0]["n"]


def test_two_machines_capture_with_the_organisation_key_and_sync_exactly(central_url, server_factory, tmp_path, repo):
    server = server_factory(central_url)
    stores = {name: tmp_path / name for name in ("alpha", "beta")}
    for name, store in stores.items():
        run_cli("init", "--path", str(store), cwd=tmp_path)
        login(store, server.address, make_token(central_url, name), tmp_path)
        assert stat.S_IMODE((store / "config.toml").stat().st_mode) == 0o600
        for _ in range(3):
            done = run_cli("run", "--keep-noop", "--quiet", "--path", str(store), "--", "echo", "same", cwd=repo)
            assert done.returncode == 0, done.stderr
        first = sync(store, tmp_path)
        assert "events: 3 sent, 3 accepted, 0 duplicate, 0 rejected" in first.stdout
        again = sync(store, tmp_path)
        assert "events: 0 sent" in again.stdout
    assert central_count(central_url) == 6
    assert central_count(central_url, "SELECT count(DISTINCT command_hash) FROM command_events") == 1
    assert central_count(central_url, "SELECT count(DISTINCT machine) FROM command_events") == 2
    fingerprint = central_count(central_url, "SELECT fingerprint FROM hash_keys")
    assert central_count(central_url, "SELECT min(key_fingerprint) FROM command_events") == fingerprint
    assert central_count(central_url, "SELECT max(key_fingerprint) FROM command_events") == fingerprint
    status = run_cli("sync", "status", "--path", str(stores["alpha"]), cwd=tmp_path)
    assert "events: 0 pending, 3 synced, 0 rejected" in status.stdout
    assert "last acknowledged push: 20" in status.stdout


def test_client_killed_between_send_and_acknowledgement(central_url, server_factory, tmp_path):
    server = server_factory(central_url)
    store = tmp_path / "store"
    add_events(store, 1500, "k")
    proxy = Proxy(server.port, plan=["forward", "hold"])
    token = make_token(central_url, "victim")
    try:
        login(store, proxy.address, token, tmp_path)
        client = subprocess.Popen([sys.executable, "-m", "devtrace", "sync", "--path", str(store)],
                                  env=devtrace_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proxy.holding.wait(60)  # the server has committed the first batch; its answer is held
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=30)
    finally:
        proxy.close()
    assert central_count(central_url) == 1000
    assert synced(store) == 0  # never acknowledged, so still pending
    login(store, server.address, token, tmp_path)
    done = sync(store, tmp_path)
    assert "events: 1500 sent, 500 accepted, 1000 duplicate, 0 rejected" in done.stdout
    assert central_count(central_url) == 1500
    assert synced(store) == 1500


def test_dropped_connection_429_and_503_are_retried(central_url, server_factory, tmp_path, monkeypatch):
    monkeypatch.setattr(client, "BACKOFF", (0.05, 0.1))  # the push runs in this process: short waits where no Retry-After says
    server = server_factory(central_url)
    store = tmp_path / "store"
    add_events(store, 2500, "r")
    proxy = Proxy(server.port, plan=["forward", "drop", (429, {"Retry-After": "1"}), (503, {}), "forward", "drop"])
    try:
        login(store, proxy.address, make_token(central_url, "flaky"), tmp_path)
        started = time.monotonic()
        done = sync(store, tmp_path)
        waited = time.monotonic() - started
    finally:
        proxy.close()
    assert central_count(central_url) == 2500
    assert synced(store) == 2500
    # Two batches reached the server but their answers were lost: sent again, counted as duplicates.
    assert "events: 2500 sent, 500 accepted, 2000 duplicate, 0 rejected" in done.stdout
    assert waited >= 1.0  # Retry-After was honoured
    assert len([line for line in proxy.seen if "telemetry" in line]) == 7


@pytest.fixture(scope="module")
def twenty_thousand_events(tmp_path_factory):
    """A store of 20,000 events, built once: a test copies it."""
    store = tmp_path_factory.mktemp("twenty-thousand") / "store"
    add_events(store, 20_000, "s")
    return store


def test_server_killed_mid_batch_and_restarted(central_url, server_factory, tmp_path, twenty_thousand_events):
    server = server_factory(central_url, process=True)
    store = shutil.copytree(twenty_thousand_events, tmp_path / "store")
    login(store, server.address, make_token(central_url, "steady"), tmp_path)
    client = subprocess.Popen([sys.executable, "-m", "devtrace", "sync", "--path", str(store)],
                              env=devtrace_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while central_count(central_url) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()
    time.sleep(1.0)
    server_factory(central_url, port=server.port)
    out, err = client.communicate(timeout=300)
    assert client.returncode == 0, err
    assert central_count(central_url) == 20_000
    assert synced(store) == 20_000
    assert "events: 20000 sent" in out


def test_rejected_events_stay_local_with_their_reason_and_are_not_resent(central_url, server_factory, tmp_path):
    server = server_factory(central_url)
    store = tmp_path / "store"
    add_events(store, 3, "ok")
    add_events(store, 2, "sk", at=time.time() + 2 * 86400)  # this machine's clock runs two days ahead
    login(store, server.address, make_token(central_url, "skewed"), tmp_path)
    done = sync(store, tmp_path)
    assert "events: 5 sent, 3 accepted, 0 duplicate, 2 rejected" in done.stdout
    assert "not sent again" in done.stdout
    status = run_cli("sync", "status", "--path", str(store), cwd=tmp_path).stdout
    assert "events: 0 pending, 3 synced, 2 rejected" in status
    assert "in the future by the server's clock" in status
    assert "events: 0 sent" in sync(store, tmp_path).stdout
    reasons = rows(store, "SELECT reason FROM event_sync WHERE status = 'rejected'")
    assert len(reasons) == 2 and all("future" in r["reason"] for r in reasons)


def test_imported_history_older_than_the_server_keeps_stays_local_and_is_never_resent(central_url, server_factory,
                                                                                      tmp_path):
    """`devtrace import` brings in years of history; the server refuses what is older than its
    age limit (--max-age-days) or its retention cut-off. Those rows stay in the store with the
    server's reason and are not sent again; the rest of their batches is synced."""
    from devtrace.central.lake import admin

    now = time.time()
    ages = {"echo ancient": 400, "ls ancient": 399, "echo retained": 40, "ls retained": 39, "echo new": 1, "ls new": 0.5}
    history = tmp_path / "bash_history"
    history.write_text("".join(f"#{int(now - days * 86400)}\n{line}\n" for line, days in ages.items()))
    server = server_factory(central_url, "--max-age-days", "100")
    admin.retention(central_url, 30, actor="test")  # the organisation keeps 30 days: a cut-off for every machine
    store = tmp_path / "store"
    done = run_cli("import", "bash", str(history), "--path", str(store), "--json", cwd=tmp_path)
    assert done.returncode == 0 and '"added": 6' in done.stdout, done.stdout + done.stderr
    login(store, server.address, make_token(central_url, "laptop"), tmp_path)
    done = sync(store, tmp_path)
    assert "events: 6 sent, 2 accepted, 0 duplicate, 4 rejected" in done.stdout, done.stdout
    refused = rows(store, "SELECT e.executed_at, s.reason FROM event_sync AS s JOIN command_events AS e "
                          "ON e.id = s.event_id WHERE s.status = 'rejected' ORDER BY e.executed_at")
    assert [now - r["executed_at"] > 38 * 86400 for r in refused] == [True] * 4
    assert ["older than 100 days" in r["reason"] for r in refused] == [True, True, False, False]
    assert ["retention or erasure cut-off" in r["reason"] for r in refused] == [False, False, True, True]
    assert len(rows(store)) == 6  # nothing refused left the store
    assert "events: 0 sent" in sync(store, tmp_path).stdout  # final: never sent again
    status = run_cli("sync", "status", "--path", str(store), cwd=tmp_path).stdout
    assert "events: 0 pending, 2 synced, 4 rejected" in status and "older than 100 days" in status
    assert central_count(central_url) == 2


def test_labels_follow_their_events(central_url, server_factory, tmp_path):
    server = server_factory(central_url)
    store = tmp_path / "store"
    add_events(store, 2, "lb")
    login(store, server.address, make_token(central_url, "labeller"), tmp_path)
    for value in ("40", "90"):
        done = run_cli("label", "evt_lb00000000", value, "--path", str(store), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    done = sync(store, tmp_path)
    assert "labels: 2 sent, 2 accepted, 0 duplicate, 0 rejected" in done.stdout
    assert central_count(central_url, "SELECT count(*) FROM labels WHERE event_id = 'evt_lb00000000'") == 2
    assert "labels: 0 sent" in sync(store, tmp_path).stdout
    with pytest.raises(DevtraceError, match="sent to the central server"):
        retract_label(2, path=store)  # the newest label, but the server has it


def test_sync_auto_pushes_from_the_background_process_and_capture_stays_offline(central_url, server_factory, tmp_path, repo):
    server = server_factory(central_url, process=True)
    store = tmp_path / "store"
    run_cli("init", "--path", str(store), cwd=tmp_path)
    login(store, server.address, make_token(central_url, "auto"), tmp_path)
    with open(store / "config.toml", "a") as f:
        f.write('sync = "auto"\n')
    done = run_cli("run", "--keep-noop", "--path", str(store), "--", "true", cwd=repo)
    assert done.returncode == 0 and "recorded" in done.stderr and done.stderr.count("\n") == 1  # no settings warning
    deadline = time.monotonic() + 60
    while synced(store) < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert synced(store) == 1 and central_count(central_url) == 1
    server.kill()  # the server is gone: capture still records, the push waits for later
    done = run_cli("run", "--keep-noop", "--path", str(store), "--", "true", cwd=repo)
    assert done.returncode == 0 and "recorded" in done.stderr
    deadline = time.monotonic() + 120
    while not (store / "autosync.log").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "did not answer" in (store / "autosync.log").read_text()
    assert rows(store, "SELECT count(*) AS n FROM command_events")[0]["n"] == 2 and synced(store) == 1


def test_revoked_token_stops_the_push_in_one_sentence(central_url, server_factory, tmp_path):
    server = server_factory(central_url)
    store = tmp_path / "store"
    add_events(store, 5, "rv")
    login(store, server.address, make_token(central_url, "gone"), tmp_path)
    assert run_cli("server", "token", "revoke", "gone", "--db", central_url, cwd=tmp_path).returncode == 0
    done = sync(store, tmp_path, ok=False)
    assert done.returncode == 1
    assert done.stderr.startswith("devtrace: the server at") and "refused the token" in done.stderr
    assert "Traceback" not in done.stderr
    assert synced(store) == 0 and central_count(central_url) == 0


def test_sync_without_login_or_server_says_what_to_do(tmp_path):
    store = tmp_path / "store"
    add_events(store, 1, "nl")
    done = sync(store, tmp_path, ok=False)
    assert done.returncode == 1 and "sync login" in done.stderr
    done = run_cli("sync", "login", "--server", "http://127.0.0.1:9", "--token", "dt_x", "--path", str(store),
                   cwd=tmp_path, env=devtrace_env())
    assert done.returncode == 1 and "did not answer" in done.stderr
    assert not (store / "config.toml").exists()
    assert os.path.isfile(store / "devtrace.db")


def test_login_keeps_the_config_file_as_written_and_its_tables_apart(server_factory, tmp_path):
    """The settings login writes are top-level keys: a file that ends with a table keeps them
    out of it (they used to land inside it, and the store read as not enrolled); its tables,
    comments and other settings stay as they were, and a second login replaces the values."""
    import tomllib

    central_url = str(tmp_path / "central.db")
    server = server_factory(central_url)
    store = tmp_path / "store"
    run_cli("init", "--path", str(store), cwd=tmp_path)
    written = ('# settings of this store\nkeep_noop = true  # keep no-op commands too\n\n'
               '[notes]\nowner = "alice"\nserver = "the old one, retired"\n')
    (store / "config.toml").write_text(written)
    login(store, server.address, make_token(central_url, "laptop"), tmp_path)

    text = (store / "config.toml").read_text()
    assert text.startswith("# settings of this store\nkeep_noop = true  # keep no-op commands too\n")  # as written
    assert '[notes]\nowner = "alice"\nserver = "the old one, retired"\n' in text
    with open(store / "config.toml", "rb") as f:
        values = tomllib.load(f)
    assert values["notes"] == {"owner": "alice", "server": "the old one, retired"}
    assert (values["server"], values["machine"], values["keep_noop"]) == (server.address, "laptop", True)
    assert stat.S_IMODE((store / "config.toml").stat().st_mode) == 0o600
    status = run_cli("sync", "status", "--path", str(store), cwd=tmp_path)
    assert f"server: {server.address}" in status.stdout, status.stdout + status.stderr
    add_events(store, 5, "a")
    assert "events: 5 sent, 5 accepted" in sync(store, tmp_path).stdout

    login(store, server.address, make_token(central_url, "desktop"), tmp_path)
    with open(store / "config.toml", "rb") as f:
        again = tomllib.load(f)
    assert (again["machine"], again["notes"], again["keep_noop"]) == ("desktop", values["notes"], True)
    assert again["token"] != values["token"]
    assert (store / "config.toml").read_text().count("token =") == 1

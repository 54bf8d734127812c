"""Erasure and retention with or without a lake (they never create one), and what they leave
behind: a cut-off under which a machine's events are not accepted again."""

import os
import time

from devtrace.analytics.lake_reader import catalog_file
from devtrace.central.lake import writer
from devtrace.ml.synthetic import generate
from tests.central_support import call, central_count, make_token, run_cli
from tests.test_central_lake import push


def _no_lake(url: str) -> bool:
    if url.startswith("postgresql://"):
        return not writer.lake_exists(url)
    return not os.path.exists(catalog_file(url)) and not os.path.exists(url + "-lake")


def test_erase_and_retention_work_without_a_lake_and_create_none(central_url, tmp_path):
    frame = generate(400, seed=21)
    push(central_url, frame[:200], "alice", labels_every=4)
    push(central_url, frame[200:], "bob", labels_every=4)
    done = run_cli("server", "erase", "--machine", "bob", "--db", central_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Erased 200 events and 50 labels of bob" in done.stdout
    assert central_count(central_url, "SELECT count(*) FROM command_events WHERE machine = 'bob'") == 0
    assert central_count(central_url) == 200
    done = run_cli("server", "retention", "--days", "1", "--db", central_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Removed 200 events" in done.stdout  # the synthetic events are months old
    assert central_count(central_url, "SELECT count(*) FROM audit_log") == 2
    assert _no_lake(central_url)


def test_erase_through_the_api_without_a_lake(central_url, tmp_path, server_factory):
    push(central_url, generate(100, seed=22), "carol")
    admin = make_token(central_url, "root", scope="admin")
    server = server_factory(central_url, "--flush-every", "0.5")
    status, answer, _ = call(server.address, "POST", "/v1/admin/erase", token=admin, body={"machine": "carol"})
    assert (status, answer) == (200, {"events": 100, "labels": 0}), answer
    time.sleep(1.5)  # the flush timer ran meanwhile: it creates no lake either
    assert central_count(central_url) == 0 and _no_lake(central_url)


def test_what_was_erased_or_retired_is_not_accepted_again(central_url, tmp_path, server_factory):
    from tests.test_central_sync import add_events, login, sync

    server = server_factory(central_url)
    token = make_token(central_url, "alice")
    first = tmp_path / "first"
    add_events(first, 30, "a", at=time.time() - 3 * 86400)
    login(first, server.address, token, tmp_path)
    sync(first, tmp_path)
    assert run_cli("server", "erase", "--machine", "alice", "--db", central_url, cwd=tmp_path).returncode == 0
    again = tmp_path / "again"  # the same events from a copy of the store, pushed after the erasure
    add_events(again, 30, "a", at=time.time() - 3 * 86400)
    add_events(again, 5, "new", at=time.time() + 5)  # captured after it: welcome
    login(again, server.address, token, tmp_path)
    done = sync(again, tmp_path)
    assert "events: 35 sent, 5 accepted, 0 duplicate, 30 rejected" in done.stdout
    assert "events: 0 sent" in sync(again, tmp_path).stdout  # final for those rows
    status = run_cli("sync", "status", "--path", str(again), cwd=tmp_path).stdout
    assert "30 rejected" in status and "cut-off" in status
    assert central_count(central_url) == 5

    assert run_cli("server", "retention", "--days", "2", "--db", central_url, cwd=tmp_path).returncode == 0
    bob = tmp_path / "bob"
    add_events(bob, 10, "b", at=time.time() - 4 * 86400)
    login(bob, server.address, make_token(central_url, "bob"), tmp_path)
    assert "events: 10 sent, 0 accepted, 0 duplicate, 10 rejected" in sync(bob, tmp_path).stdout

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

"""The views over the central database answer as they do over one store holding every machine's events."""

import os
import subprocess
import sys

import polars as pl
import pytest

import devtrace
from devtrace import analytics
from tests.analytics_support import DAY, JAN_1, build_store, event
from tests.central_support import Server, central_count, make_token, run_cli
from tests.postgres_support import DATABASES, new_database


def machine_events(prefix: str, agent: str, start: float) -> list[dict]:
    rows = []
    for i in range(12):
        at = start + i * 3600 + (i % 3) * DAY
        rows.append(event(at, id=f"evt_{prefix}{i:04d}", agent_id=agent, exit_code=1 if i % 4 == 0 else 0,
                          session_id=f"ses_{prefix}{i // 5}", command_hash=f"{i % 3:064x}",
                          delta_lines_added=i, delta_lines_deleted=i % 2, duration_ms=100 + 10 * i))
    for i, exit_code in ((12, 2), (13, 0)):  # a retry loop: failed, re-run a minute later, fixed
        rows.append(event(start + 20 * DAY + (i - 12) * 60, id=f"evt_{prefix}{i:04d}", agent_id=agent,
                          exit_code=exit_code, session_id=f"ses_{prefix}r", command_hash="f" * 64))
    for i in (14, 15):  # a retry loop that never passes: a stuck session
        rows.append(event(start + 21 * DAY + (i - 14) * 60, id=f"evt_{prefix}{i:04d}", agent_id=agent,
                          exit_code=1, session_id=f"ses_{prefix}s", command_hash="e" * 64))
    return rows


@pytest.fixture(scope="module", params=DATABASES)
def organisation(request, tmp_path_factory):
    """Two machines synced to a central database, and one local store holding both (the
    reference). Shared by the module's tests, which only read it (the refused statements
    check that they changed nothing)."""
    tmp_path = tmp_path_factory.mktemp("organisation")
    central_url = str(tmp_path / "central.db") if request.param == "sqlite" else new_database(
        request.getfixturevalue("postgres_cluster"))
    server = Server(central_url, "--max-age-days", "100000")
    try:
        yield from _synced(server, central_url, tmp_path)
    finally:
        server.stop()


def _synced(server, central_url: str, tmp_path):
    laptop, desktop = machine_events("a", "claude", JAN_1), machine_events("b", "codex", JAN_1 + 1800)
    labels_a = [("evt_a0001", 70.0, "human", "ana", "good", JAN_1 + 5 * DAY), ("evt_a0001", 20.0, "human", "bo", None, JAN_1 + 6 * DAY),
                ("evt_a0002", 55.0, "pseudo", None, None, JAN_1 + 5 * DAY)]
    labels_b = [("evt_b0003", 90.0, "human", "cy", None, JAN_1 + 7 * DAY)]
    stores = {"laptop": (laptop, labels_a), "desktop": (desktop, labels_b)}
    for name, (events, labels) in stores.items():
        store = build_store(tmp_path / name, events, labels)
        done = run_cli("sync", "login", "--server", server.address, "--token", make_token(central_url, name),
                       "--path", str(store), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        done = run_cli("sync", "--path", str(store), cwd=tmp_path)
        assert done.returncode == 0 and " 0 rejected" in done.stdout, done.stdout + done.stderr
    both = build_store(tmp_path / "both", laptop + desktop, labels_a + labels_b)
    yield central_url, both


@pytest.mark.parametrize("name", [v.name for v in analytics.views()])
def test_every_view_answers_the_same_over_the_central_database(organisation, name):
    central, both = organisation
    remote = analytics.sql(f"SELECT * FROM {name}", central=central)
    local = analytics.sql(f"SELECT * FROM {name}", path=both)
    # machine: the pushing machine centrally, NULL in a local store (an event's identity is (machine, id))
    shared = [c for c in local.columns if c not in ("key_fingerprint", "machine")]
    if "machine" in local.columns:
        assert local.get_column("machine").null_count() == local.height
    # author_kind is a central column before the local store gains it (issue 11's migration).
    assert set(local.columns) <= set(remote.columns)
    assert set(remote.columns) - set(local.columns) <= {"machine", "received_at", "author_kind"}
    assert remote.height == local.height > 0
    keys = [c for c in shared if local.schema[c] not in (pl.Float64, pl.Float32)]
    assert_frames(remote.select(shared).sort(keys, nulls_last=True), local.select(shared).sort(keys, nulls_last=True))


def assert_frames(a: pl.DataFrame, b: pl.DataFrame) -> None:
    from polars.testing import assert_frame_equal

    assert_frame_equal(a, b, check_dtypes=False, abs_tol=1e-9)


def test_machine_is_one_more_column(organisation, tmp_path):
    central, _ = organisation
    per_machine = devtrace.connect(central=central).sql(
        "SELECT machine, count(*) AS n, min(received_at) IS NOT NULL AS received FROM events GROUP BY ALL ORDER BY machine").pl()
    assert per_machine.rows() == [("desktop", 16, True), ("laptop", 16, True)]
    done = run_cli("sql", "--central", central, "--format", "csv",
                   "SELECT machine, count(*) AS n FROM training_set WHERE label_source = 'human' GROUP BY ALL ORDER BY 1",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["machine,n", "desktop,1", "laptop,1"]


def test_central_database_is_read_only_and_errors_are_sentences(organisation, tmp_path):
    central, _ = organisation
    done = run_cli("sql", "--central", central, "DELETE FROM store.command_events", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    done = run_cli("sql", "--central", str(tmp_path / "nowhere.db"), "SELECT 1", cwd=tmp_path)
    assert done.returncode == 1 and "no central database at" in done.stderr


def test_report_over_the_central_database(organisation, tmp_path):
    central, _ = organisation
    out = tmp_path / "org.html"
    done = run_cli("report", "--central", central, "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert "claude" in page and "codex" in page
    refused = run_cli("notebook", "labeling", "--central", central, "--headless", cwd=tmp_path)
    assert refused.returncode == 1 and "--central is for the analysis notebook" in refused.stderr


@pytest.mark.parametrize("statement", [
    "CALL postgres_execute('central_db', 'COMMIT; DELETE FROM labels')",
    "SELECT * FROM postgres_query('central_db', 'SELECT 1 FROM labels')",
    "SELECT * FROM postgres_scan('host=127.0.0.1 port=9 user=postgres', 'public', 'labels')",
    "CALL postgres_attach('host=127.0.0.1 port=9 user=postgres')",
    "CALL ducklake_merge_adjacent_files('lake')",
    # The same names assembled at run time, out of a text check's sight:
    "SELECT * FROM query('SELECT * FROM postgres' || '_execute(''central_db'', ''COMMIT; DELETE FROM labels'')')",
    "SELECT * FROM query/* */ ('SELECT * FROM sqlite' || '_attach(''x.db'')')",
])
def test_central_sql_cannot_reach_past_the_views(organisation, tmp_path, statement):
    """The extension's own functions run SQL of their choosing in the central database
    (postgres_execute's COMMIT ends the read-only transaction) or open other connections:
    refused in one sentence, and nothing stored changes."""
    central, _ = organisation
    before = central_count(central, "SELECT count(*) FROM labels")
    done = run_cli("sql", "--central", central, statement, cwd=tmp_path)
    assert done.returncode == 1 and "is refused" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert central_count(central, "SELECT count(*) FROM labels") == before == 4


def test_central_queries_have_bounded_memory_and_a_private_spill_folder(organisation, tmp_path):
    """Past MEMORY_LIMIT DuckDB spills to a folder of its own connection, inside one folder
    of the process that only it can read, removed when the process exits."""
    central, _ = organisation
    script = ("import os, sys, devtrace\n"
              "cons = [devtrace.connect(central=sys.argv[1]) for _ in range(2)]\n"
              "settings = \"SELECT current_setting('memory_limit'), current_setting('temp_directory')\"\n"
              "(limit, a), (_, b) = (con.execute(settings).fetchone() for con in cons)\n"
              "root = os.path.dirname(a)\n"
              "print(limit, a, b, root, oct(os.stat(root).st_mode & 0o777),\n"
              "      cons[0].sql('SELECT count(*) FROM retry_loops').fetchone()[0], sep='|')\n")
    done = subprocess.run([sys.executable, "-c", script, central], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    limit, a, b, root, mode, loops = done.stdout.strip().split("|")
    assert limit == "953.6 MiB" and mode == "0o700" and int(loops) == 4
    assert a != b and os.path.dirname(b) == root
    assert not os.path.exists(root)

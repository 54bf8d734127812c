"""The Python API: connection, freshness under concurrent capture, errors, offline loading."""

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import devtrace
from devtrace import analytics
from devtrace.errors import DevtraceError
from devtrace.store import StoreError
from tests.analytics_support import JAN_1, build_store, event
from tests.support import devtrace_env

REPO = Path(__file__).resolve().parent.parent


def test_the_package_exports_the_api_lazily():
    assert devtrace.sql is analytics.sql and devtrace.events is analytics.events
    assert devtrace.connect is analytics.connect


@pytest.mark.parametrize("module", ["devtrace", "devtrace.capture.command", "devtrace.store"])
def test_import_and_capture_stay_clear_of_duckdb_and_polars(module):
    check = f"import sys, {module}; print(sorted(m for m in ('duckdb', 'polars', 'pyarrow') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_events_newest_n_oldest_first_and_filters(tmp_path):
    store = build_store(tmp_path / "store", [
        event(JAN_1 + 3, id="c3"), event(JAN_1 + 1, id="c1"), event(JAN_1 + 4, id="x4", agent_id="codex"),
        event(JAN_1 + 2, id="c2", session_id="s2"), event(JAN_1 + 5, id="c5"),
    ])
    assert analytics.events(path=store)["id"].to_list() == ["c1", "c2", "c3", "x4", "c5"]
    assert analytics.events(path=store, limit=2)["id"].to_list() == ["x4", "c5"]
    assert analytics.events(path=store, limit=2, agent="claude")["id"].to_list() == ["c3", "c5"]
    assert analytics.events(path=store, agent="claude", session="s2")["id"].to_list() == ["c2"]
    assert analytics.events(path=store, agent="nobody").height == 0
    assert analytics.events(path=store, limit=0).height == 0


def test_store_path_defaults_to_devtrace_path(tmp_path, monkeypatch):
    store = build_store(tmp_path / "it's a store", [event(JAN_1)])  # a quote in the path, too
    monkeypatch.setenv("DEVTRACE_PATH", str(store))
    assert devtrace.sql("SELECT count(*) AS n FROM events")["n"].to_list() == [1]


def test_a_query_sees_an_event_captured_a_moment_earlier(tmp_path):
    store = build_store(tmp_path / "store", [event(JAN_1)])
    with analytics.connect(store) as con:
        assert con.sql("SELECT count(*) FROM events").fetchone() == (1,)
        run = [sys.executable, "-m", "devtrace", "run", "--quiet", "--keep-noop", "--agent", "late", "--path", str(store), "--", "true"]
        subprocess.run(run, cwd=tmp_path, env=devtrace_env(), check=True)
        assert con.sql("SELECT count(*), max(agent_id) FROM events WHERE agent_id = 'late'").fetchone() == (1, "late")


def test_querying_while_another_process_captures(tmp_path):
    """A shell loop captures 150 events through the real CLI while we query without pause: no
    query fails or goes backwards, and the last one sees every event."""
    store = build_store(tmp_path / "store", [])
    captures = 150  # a quiet machine captures 40 in about a second: too few queries overlap them
    loop = f'for i in $(seq {captures}); do "$PY" -m devtrace run --quiet --keep-noop --path "$STORE" -- true || exit 1; done'
    writer = subprocess.Popen(
        ["sh", "-c", loop], cwd=tmp_path, env=devtrace_env(PY=sys.executable, STORE=str(store)),
        stderr=subprocess.PIPE, text=True,
    )
    seen = []
    try:
        with analytics.connect(store) as con:
            while writer.poll() is None:
                seen.append(analytics.query(con, "SELECT count(*) AS n FROM events")["n"][0])
                analytics.query(con, "SELECT * FROM daily_activity")
                analytics.query(con, "SELECT * FROM retry_loops")
    finally:
        _, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert len(seen) > 3 and seen == sorted(seen), seen
    assert any(0 < n < captures for n in seen), seen  # some queries ran mid-capture
    assert devtrace.sql("SELECT count(*) AS n FROM events", path=store)["n"][0] == captures
    assert analytics.sql("SELECT sum(commands) AS n FROM daily_activity", path=store)["n"][0] == captures


def test_the_store_is_read_only(tmp_path):
    store = build_store(tmp_path / "store", [event(JAN_1, id="keep")])
    before = (store / "devtrace.db").read_bytes()
    with pytest.raises(DevtraceError, match="read-only"):
        devtrace.sql("DELETE FROM store.command_events", path=store)
    with pytest.raises(DevtraceError, match="read-only"):
        devtrace.sql("CREATE TABLE store.sneaky (x INTEGER)", path=store)
    assert (store / "devtrace.db").read_bytes() == before
    assert devtrace.sql("SELECT id FROM store.command_events", path=store)["id"].to_list() == ["keep"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELEC * FROM events", 'Parser Error: syntax error at or near "SELEC"'),
        ("SELECT * FROM no_such_view", "Catalog Error: Table with name no_such_view does not exist!"),
        ("SELECT nope FROM events", 'Binder Error: Referenced column "nope" not found'),
        ("   ", "the query is empty"),
    ],
)
def test_bad_sql_is_one_line(tmp_path, query, message):
    store = build_store(tmp_path / "store", [event(JAN_1)])
    with pytest.raises(DevtraceError) as caught:
        devtrace.sql(query, path=store)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value) and "LINE 1" not in str(caught.value)


def test_several_statements_return_the_last_result(tmp_path):
    store = build_store(tmp_path / "store", [event(JAN_1)])
    got = devtrace.sql("SET VARIABLE answer = 42; SELECT getvariable('answer') AS answer", path=store)
    assert got.rows() == [(42,)]
    assert devtrace.sql("SET VARIABLE answer = 1", path=store).shape == (0, 0)


def test_unknown_view():
    with pytest.raises(DevtraceError, match=r"unknown view 'nope' \(views: events, "):
        analytics.view("nope")


def test_missing_corrupt_and_newer_stores_fail_in_one_sentence(tmp_path):
    with pytest.raises(StoreError, match="no DevTrace store at"):
        analytics.connect(tmp_path / "missing")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "devtrace.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="is not a usable DevTrace store"):
        devtrace.sql("SELECT 1", path=corrupt)
    newer = build_store(tmp_path / "newer", [])
    conn = sqlite3.connect(newer / "devtrace.db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(StoreError, match="written by a newer DevTrace"):
        devtrace.events(path=newer)


def test_a_devtrace_0_2_0_store_is_migrated_and_readable(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    conn = sqlite3.connect(old / "devtrace.db")
    conn.executescript((REPO / "sql" / "migrations" / "0001_devtrace_0_2_0.sql").read_text())
    conn.execute(
        "INSERT INTO command_events (id, agent_id, executed_at, command_hash, duration_ms, exit_code,"
        " timed_out, files_touched_count, lines_added, lines_deleted) VALUES"
        " ('old1', 'codex', ?, ?, 1500, 0, 0, 2, 7, 1)",
        (JAN_1, "c" * 64),
    )
    conn.commit()
    conn.close()
    row = devtrace.events(path=old).row(0, named=True)
    assert (row["id"], row["lines_added"], row["session_id"], row["delta_lines_added"]) == ("old1", 7, None, None)
    assert str(row["ended_at"]) == "2024-01-01 00:00:01.500000"
    assert devtrace.sql("SELECT count(*) AS n FROM sessions", path=old)["n"][0] == 0


def test_view_files_name_their_view_and_open_with_what_they_answer():
    views = analytics.views()
    assert [v.name for v in views][:1] == ["events"]
    assert {"events", "daily_activity", "agent_summary", "command_stats", "sessions", "retry_loops",
            "training_set"} <= {v.name for v in views}
    for view in views:
        text = Path(view.file).read_text()
        assert text.startswith("-- ") and len(view.description) > 20, view.file
        assert re.search(rf"^CREATE OR REPLACE VIEW {view.name} AS$", text, re.M), view.file


def test_the_duckdb_cli_script_defines_the_same_views(tmp_path):
    """What `devtrace views --script` prints, run by a bare DuckDB (as `duckdb -init` would)."""
    store = build_store(tmp_path / "store", [event(JAN_1, exit_code=1), event(JAN_1 + 5)])
    bare = duckdb.connect()
    bare.execute(analytics.init_script(store))
    for view in analytics.views():
        expected = devtrace.sql(f"SELECT * FROM {view.name}", path=store)
        got = bare.sql(f"SELECT * FROM {view.name}").pl()
        # the same rows, in any order: a view without ORDER BY (top) has none
        assert got.schema == expected.schema, view.name
        assert sorted(map(repr, got.rows())) == sorted(map(repr, expected.rows())), view.name


def test_the_extension_comes_from_the_package_with_autoloading_off(tmp_path):
    store = build_store(tmp_path / "store", [event(JAN_1)])
    with analytics.connect(store) as con:
        settings = con.sql(
            "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
        ).fetchone()
        # duckdb_extensions() lists the extension folder, a file access the locked connection refuses
        attached = con.sql("SELECT type, readonly FROM duckdb_databases() WHERE database_name = 'store'").fetchone()
    assert settings == (False, False)
    assert attached == ("sqlite", True)  # by the extension loaded from the package's file (see test_no_network_is_needed)
    assert analytics.extension_path().startswith(os.path.dirname(duckdb_extension_package()))


def duckdb_extension_package() -> str:
    import duckdb_extension_sqlite_scanner

    return duckdb_extension_sqlite_scanner.__file__


@pytest.fixture
def offline_home(tmp_path):
    """An empty HOME, so no extension DuckDB may have cached under ~/.duckdb can be used."""
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_no_network_is_needed(tmp_path, offline_home):
    """The CLI answers inside a network namespace with no interface but loopback (unshare -rn),
    with an empty HOME; and nothing is written under HOME (DuckDB installs go to ~/.duckdb)."""
    store = build_store(tmp_path / "store", [event(JAN_1)])
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to prove the analytics run offline"
    cli = [sys.executable, "-m", "devtrace", "sql", "SELECT commands FROM agent_summary", "--format", "csv", "--path", str(store)]
    done = subprocess.run(
        [unshare, "--user", "--map-root-user", "--net", *cli], cwd=tmp_path,
        env=devtrace_env(HOME=str(offline_home)), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "commands\n1\n"
    assert list(offline_home.iterdir()) == []


def test_a_broken_view_file_is_named_in_one_sentence(tmp_path, monkeypatch):
    sql_dir = tmp_path / "sql"
    shutil.copytree(REPO / "sql", sql_dir)
    (sql_dir / "views" / "20_broken.sql").write_text("-- Broken on purpose.\nCREATE OR REPLACE VIEW broken AS SELECT nope FROM events;\n")
    monkeypatch.setattr(devtrace.paths, "sql_dir", lambda: str(sql_dir))
    store = build_store(tmp_path / "store", [])
    with pytest.raises(DevtraceError, match=r"^view broken \(.*20_broken.sql\) cannot be defined: Binder Error: "):
        analytics.connect(store)

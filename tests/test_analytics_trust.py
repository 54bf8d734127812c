"""No query can change the store or reach past it: through `devtrace sql`, the Python API and
the notebooks' connections, each hostile statement is refused in one line, the store file is
unchanged, and ordinary queries keep working on the same connection."""

import hashlib
import os
import re
import sqlite3
import sys
from pathlib import Path

import duckdb
import pytest

import devtrace
from devtrace import analytics
from devtrace.errors import DevtraceError
from tests.analytics_support import JAN_1, build_store, event
from tests.notebook_support import run_notebook
from tests.support import devtrace as cli


def checksum(store: Path) -> str:
    """The store's content: the database file and its WAL (a write may sit in either)."""
    digest = hashlib.sha256()
    for name in ("devtrace.db", "devtrace.db-wal"):
        file = store / name
        digest.update(file.read_bytes() if file.exists() else b"")  # no WAL = an empty one
    return digest.hexdigest()


@pytest.fixture
def store(tmp_path) -> Path:
    store = build_store(tmp_path / "st", [event(JAN_1, id="e1"), event(JAN_1 + 1, id="e2")],
                        labels=[("e1", 80.0, "human", "ana", None, JAN_1 + 5)])
    (store / "hash.key").write_text("a" * 64 + "\n")
    conn = sqlite3.connect(store / "devtrace.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every byte in devtrace.db, so its checksum says it all
    conn.close()
    return store


def hostile(store: Path) -> list[str]:
    db = store / "devtrace.db"
    return [
        f"ATTACH '{db}' AS w (TYPE sqlite); DROP TABLE w.command_events",
        f"ATTACH '{db}' AS w (TYPE sqlite); DELETE FROM w.labels",
        f"ATTACH '{db}' AS w (TYPE sqlite, READ_WRITE); INSERT INTO w.labels (event_id, value, source, created_at)"
        " VALUES ('e2', 1, 'human', 0)",
        f"ATTACH '{db}' AS w (TYPE sqlite); UPDATE w.command_events SET predicted_productivity = 100",
        f"COPY (SELECT 1) TO '{db}'",
        f"SELECT * FROM read_text('{store / 'hash.key'}')",
        f"SELECT * FROM read_csv('{store / 'hash.key'}')",
        "INSTALL httpfs",
        "LOAD httpfs",
        f"SELECT * FROM sqlite_scan('{db}', 'labels')",
        "SET enable_external_access = true; SELECT * FROM read_text('/etc/hostname')",
        "DETACH store",
    ]


def test_devtrace_sql_refuses_every_hostile_statement_in_one_line(store):
    before = checksum(store)
    for text in hostile(store):
        done = cli("sql", text, "--path", str(store), cwd=store.parent, text=True)
        assert done.returncode == 1, text
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, (text, done.stderr)
        assert "aaaa" not in done.stdout + done.stderr  # the key never leaks
        assert checksum(store) == before, text
    done = cli("sql", "SELECT count(*) AS n FROM events", "--format", "csv", "--path", str(store), cwd=store.parent, text=True)
    assert done.stdout == "n\n2\n"


def test_the_python_api_refuses_them_and_keeps_answering(store):
    before = checksum(store)
    for text in hostile(store):
        with pytest.raises(DevtraceError) as caught:
            devtrace.sql(text, path=store)
        assert "\n" not in str(caught.value), text
    assert checksum(store) == before
    assert devtrace.events(path=store)["id"].to_list() == ["e1", "e2"]


def test_one_connection_stays_usable_after_refusals(store):
    """The notebooks keep one connection: refusals must not spoil it."""
    before = checksum(store)
    with analytics.connect(store) as con:
        for text in hostile(store):
            with pytest.raises(DevtraceError):
                analytics.query(con, text)
            assert analytics.query(con, "SELECT count(*) AS n FROM events")["n"][0] == 2, text
    assert checksum(store) == before


def test_a_raw_connection_is_locked_too(store):
    """What `devtrace.connect` hands out: DuckDB itself refuses files, network, extensions and
    settings, before any check of DevTrace's."""
    with devtrace.connect(store) as con:
        for text in (f"SELECT * FROM read_text('{store / 'hash.key'}')", f"COPY (SELECT 1) TO '{store / 'devtrace.db'}'",
                     "INSTALL httpfs", "LOAD httpfs"):
            with pytest.raises(duckdb.PermissionException):
                con.execute(text)
        for setting in ("enable_external_access = true", "lock_configuration = false", "allowed_paths = ['/']"):
            with pytest.raises(duckdb.InvalidInputException, match="the configuration has been locked"):
                con.execute(f"SET {setting}")
        assert con.sql("SELECT count(*) FROM store.command_events").fetchone() == (2,)


def test_the_analysis_notebook_connection_is_locked(store, monkeypatch):
    con = run_notebook("analysis", store, monkeypatch)["con"]
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT * FROM read_text('{store / 'hash.key'}')")
    with pytest.raises(DevtraceError, match="ATTACH is refused"):
        analytics.query(con, f"ATTACH '{store / 'devtrace.db'}' AS w (TYPE sqlite)")


def test_the_locked_connection_still_reads_events_captured_after_it_opened(store, tmp_path):
    import subprocess

    from tests.support import devtrace_env

    with analytics.connect(store) as con:
        assert analytics.query(con, "SELECT count(*) AS n FROM events")["n"][0] == 2
        run = [sys.executable, "-m", "devtrace", "run", "--quiet", "--keep-noop", "--path", str(store), "--", "true"]
        subprocess.run(run, cwd=tmp_path, env=devtrace_env(), check=True)
        assert analytics.query(con, "SELECT count(*) AS n FROM events")["n"][0] == 3


# --- results Polars cannot hold --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT INTERVAL 1 DAY AS i", "column 'i' is of type INTERVAL, which Polars cannot hold: CAST it to VARCHAR"),
        ("SELECT union_value(k := 1) AS u", "column 'u' is of type UNION(k INTEGER), which Polars cannot hold"),
        ("SELECT [INTERVAL 1 DAY] AS l", "column 'l' is of type INTERVAL[], which Polars cannot hold"),
        ("SELECT 'infinity'::TIMESTAMP AS t", "column 't' holds a date Polars cannot show (such as 'infinity')"),
        ("SELECT '-infinity'::DATE AS d", "column 'd' holds a date Polars cannot show"),
        ("SELECT 'infinity'::TIMESTAMPTZ AS t", "column 't' holds a date Polars cannot show"),
        ("SELECT 'infinity'::TIMESTAMP_NS AS t", "column 't' holds a date Polars cannot show"),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_results_polars_cannot_hold_are_named_in_one_line(store, text, message, fmt):
    done = cli("sql", text, "--format", fmt, "--path", str(store), cwd=store.parent, text=True)
    assert done.returncode == 1
    assert done.stderr == f"devtrace: {message}" + done.stderr.partition(message)[2]
    assert done.stderr.count("\n") == 1 and "panicked" not in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(DevtraceError, match=re.escape(message)):
        devtrace.sql(text, path=store)


def test_the_table_shows_what_duckdb_holds(store):
    """`--format table` prints DuckDB's own values, without Polars: infinity as infinity, and a
    value that looks like rich markup as the text it is."""
    text = "SELECT 'infinity'::TIMESTAMP AS t, '-infinity'::DATE AS d, INTERVAL 1 DAY AS i, '[bold]x' AS s"
    done = cli("sql", text, "--path", str(store), cwd=store.parent, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    row = [cell.strip() for cell in done.stdout.splitlines()[-3].strip("│ ").split("│")]
    assert row == ["infinity", "-infinity", "1 day, 0:00:00", "[bold]x"]


def test_a_store_path_that_is_not_utf8_is_read(tmp_path):
    folder = os.fsdecode(b"st\xff\xfe")
    store = build_store(tmp_path / folder, [event(JAN_1, id="e1")])
    assert devtrace.events(path=store)["id"].to_list() == ["e1"]
    for args in (["events", "--json"], ["sql", "SELECT id FROM events", "--format", "csv"]):
        done = cli(*args, "--path", os.fsencode(store), cwd=tmp_path)
        assert done.returncode == 0 and b"e1" in done.stdout and done.stderr == b"", done.stderr

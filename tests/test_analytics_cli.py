"""`devtrace sql` and `devtrace views` through the real command line."""

import csv
import io
import json
import os
from pathlib import Path

import polars as pl
import pytest

from devtrace import analytics
from tests.analytics_support import JAN_1, build_store, event
from tests.support import devtrace_here

AGENTS = "SELECT agent_id, commands, failures FROM agent_summary ORDER BY agent_id"


@pytest.fixture
def two_agents(tmp_path):
    return build_store(tmp_path / "store", [
        event(JAN_1, agent_id="claude", exit_code=1),
        event(JAN_1 + 1, agent_id="claude"),
        event(JAN_1 + 2, agent_id="codex"),
    ])


def sql(store, *args, cwd):
    return devtrace_here("sql", *args, "--path", str(store), cwd=cwd, text=True)


def test_table(two_agents, tmp_path):
    done = sql(two_agents, AGENTS, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "claude" in line or "codex" in line]
    assert [line.split("│")[1:4] for line in lines] == [
        [" claude   ", "        2 ", "        1 "],
        [" codex    ", "        1 ", "        0 "],
    ]
    assert done.stdout.rstrip().endswith("2 rows")


def test_table_shows_the_first_rows_only(tmp_path):
    store = build_store(tmp_path / "store", [event(JAN_1 + i) for i in range(105)])
    done = sql(store, "SELECT id FROM events", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("evt_") == 100
    assert "105 rows, first 100 shown" in done.stdout


def test_csv_and_json_to_stdout(two_agents, tmp_path):
    done = sql(two_agents, AGENTS, "--format", "csv", cwd=tmp_path)
    assert list(csv.reader(io.StringIO(done.stdout))) == [
        ["agent_id", "commands", "failures"], ["claude", "2", "1"], ["codex", "1", "0"],
    ]
    done = sql(two_agents, AGENTS, "--format", "json", cwd=tmp_path)
    assert json.loads(done.stdout) == [
        {"agent_id": "claude", "commands": 2, "failures": 1},
        {"agent_id": "codex", "commands": 1, "failures": 0},
    ]


@pytest.mark.parametrize("suffix", ["csv", "json", "parquet"])
def test_out_file_format_follows_its_suffix(two_agents, tmp_path, suffix):
    out = tmp_path / f"agents.{suffix}"
    done = sql(two_agents, AGENTS, "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Wrote 2 rows to {out}\n"
    read = {"csv": pl.read_csv, "json": pl.read_json, "parquet": pl.read_parquet}[suffix]
    assert read(out).rows() == [("claude", 2, 1), ("codex", 1, 0)]


def test_query_from_a_file(two_agents, tmp_path):
    query = tmp_path / "q.sql"
    query.write_text(
        "-- the loop window is a variable\nSET VARIABLE retry_window_seconds = 60;\n"
        "SELECT getvariable('retry_window_seconds') AS w, count(*) AS loops FROM retry_loops;\n"
    )
    done = sql(two_agents, "--file", str(query), "--format", "csv", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "w,loops\n60,1\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SELEC 1"], 'devtrace: Parser Error: syntax error at or near "SELEC"\n'),
        (["SELECT * FROM dayly_activity"], "devtrace: Catalog Error: Table with name dayly_activity does not exist! "
                                            'Did you mean "daily_activity"?\n'),
        (["SELECT 1", "--file", "q.sql"], "devtrace: give a query or --file, not both\n"),
        ([], 'devtrace: give a query, e.g. devtrace sql "SELECT * FROM daily_activity", or --file FILE\n'),
        (["--file", "missing.sql"], "devtrace: cannot read missing.sql: No such file or directory\n"),
        (["SELECT 1", "--format", "xml"], "devtrace: unknown format 'xml' (choose one of csv, json, jsonl, parquet)\n"),
        (["SELECT 1", "--format", "parquet"], "devtrace: parquet is binary: give --out FILE\n"),
        (["SELECT 1", "--out", "x.txt"], "devtrace: cannot tell the format of x.txt: name it .csv, .json, .jsonl or .parquet\n"),
        (["SELECT 1", "--out", "no/such/dir/x.csv"], "devtrace: cannot write no/such/dir/x.csv: folder no/such/dir does not exist\n"),
        (["SELECT [1, 2] AS nested", "--format", "csv"], "devtrace: cannot write the result as csv: "),
    ],
)
def test_user_errors_are_one_line_and_exit_1(two_agents, tmp_path, args, message):
    done = sql(two_agents, *args, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == ""


def test_missing_store(tmp_path):
    done = devtrace_here("sql", "SELECT 1", "--path", str(tmp_path / "nowhere"), cwd=tmp_path, text=True)
    assert done.returncode == 1
    assert done.stderr == f"devtrace: no DevTrace store at {tmp_path / 'nowhere'} (create one with `devtrace init --path {tmp_path / 'nowhere'}`)\n"


def test_the_suite_has_a_home_of_its_own():
    """conftest's a_home_of_its_own: on a machine whose own hook writes ~/.devtrace, the
    message of test_missing_store named that store and the test failed."""
    import pwd

    assert Path.home() != Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert not (Path.home() / ".devtrace").exists()


def test_views_lists_each_view_with_what_it_answers(tmp_path):
    done = devtrace_here("views", cwd=tmp_path, text=True)
    assert done.returncode == 0, done.stderr
    for view in analytics.views():
        assert f"│ {view.name} " in done.stdout
        assert view.description.split()[0] in done.stdout


def test_views_prints_one_views_sql_or_refuses_an_unknown_one(tmp_path):
    done = devtrace_here("views", "retry_loops", cwd=tmp_path, text=True)
    assert done.stdout == open(analytics.view("retry_loops").file).read()
    done = devtrace_here("views", "retry_loop", cwd=tmp_path, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("devtrace: unknown view 'retry_loop' (views: events, ")


def test_views_script_for_the_duckdb_cli(two_agents, tmp_path):
    done = devtrace_here("views", "--script", "--path", str(two_agents), cwd=tmp_path, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == analytics.init_script(two_agents)
    assert f"ATTACH '{two_agents / 'devtrace.db'}' AS store (TYPE sqlite, READ_ONLY);" in done.stdout

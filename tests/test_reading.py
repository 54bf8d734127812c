"""Reading the store from the CLI: the original quickstart verbatim, events, export, demo."""

import json
import subprocess
import sys

import polars as pl
import pytest

from tests.support import devtrace, devtrace_env, devtrace_here, rows


def read_jsonl(path) -> pl.DataFrame:
    """JSON lines in the file's column order (polars 2.1's read_ndjson scrambles the order of
    33 columns or more)."""
    with open(path, encoding="utf-8") as f:
        return pl.from_dicts([json.loads(line) for line in f if line.strip()], infer_schema_length=None)


def read_json(path) -> pl.DataFrame:
    with open(path, encoding="utf-8") as f:
        return pl.from_dicts(json.load(f), infer_schema_length=None)

EVENT_COLUMNS = [
    "id", "agent_id", "executed_at", "command_hash", "duration_ms", "exit_code", "timed_out",
    "files_touched_count", "lines_added", "lines_deleted", "predicted_productivity",
    "top_contribution_feature", "top_contribution_value", "model_ref",
]


def cli(*args: str, cwd):
    """The original quickstart's spelling: python -m devtrace.cli ..."""
    return subprocess.run([sys.executable, "-m", "devtrace.cli", *args], cwd=cwd, env=devtrace_env(),
                          capture_output=True, text=True)


def test_original_quickstart_works_verbatim(repo):
    (repo / "a.txt").write_text("dirty\n")  # the 0.2.0 no-op rule skips a clean tree
    assert cli("init", "--path", ".devtrace", cwd=repo).returncode == 0
    run = cli("run", "--agent", "codex", "--path", ".devtrace", "--repo", ".", "--", "sh", "-lc", "echo hello", cwd=repo)
    assert run.returncode == 0 and run.stdout == "hello\n"
    [event] = rows(repo / ".devtrace")
    shown = cli("events", "--path", ".devtrace", cwd=repo)
    assert shown.returncode == 0 and event["id"] in shown.stdout
    exported = cli("export", "--path", ".devtrace", "--format", "csv", "--out", "./dataset.csv", cwd=repo)
    assert exported.returncode == 0
    frame = pl.read_csv(repo / "dataset.csv")
    assert frame["id"].to_list() == [event["id"]]
    assert frame["agent_id"].to_list() == ["codex"]


@pytest.fixture
def filled(repo, store):
    """Five events: three by `codex` (exit 0, 1, 2), two by `claude`."""
    for agent, code in [("codex", 0), ("claude", 0), ("codex", 1), ("claude", 0), ("codex", 2)]:
        done = devtrace("run", "--keep-noop", "--agent", agent, "--path", str(store), "--",
                        "sh", "-c", f"exit {code}", cwd=repo)
        assert done.returncode == code
    return store


def test_events_shows_the_newest_n_oldest_first_and_filters_by_agent(filled, repo):
    ids = [r["id"] for r in rows(filled)]
    newest = json.loads(devtrace_here("events", "--path", str(filled), "--limit", "2", "--json", cwd=repo).stdout)
    assert [e["id"] for e in newest] == ids[-2:]
    codex = json.loads(devtrace_here("events", "--path", str(filled), "--agent", "codex", "--json", cwd=repo).stdout)
    assert [e["exit_code"] for e in codex] == [0, 1, 2]
    table = devtrace_here("events", "--path", str(filled), cwd=repo, env=devtrace_env(COLUMNS="160"))
    assert table.returncode == 0
    assert all(i.encode() in table.stdout for i in ids)


@pytest.mark.parametrize(
    "fmt, read", [("csv", pl.read_csv), ("parquet", pl.read_parquet), ("jsonl", read_jsonl), ("json", read_json)]
)
@pytest.mark.parametrize("named_by", ["--format", "suffix"])
def test_export_writes_every_event_with_every_column(filled, repo, tmp_path, fmt, read, named_by):
    out = tmp_path / f"events.{fmt}"
    chosen = ["--format", fmt] if named_by == "--format" else []
    done = devtrace_here("export", "--path", str(filled), *chosen, "--out", str(out), cwd=repo)
    assert done.returncode == 0, done.stderr
    frame = read(out)
    assert frame.height == 5
    assert frame.columns[: len(EVENT_COLUMNS)] == EVENT_COLUMNS  # 0.2.0's names, in 0.2.0's order
    assert {"session_id", "program", "delta_files", "started_at", "ended_at"} <= set(frame.columns)
    assert sorted(frame["id"].to_list()) == sorted(r["id"] for r in rows(filled))


def test_export_of_one_store_has_the_same_columns_in_every_format(filled, repo, tmp_path):
    columns = []
    for fmt, read in [("csv", pl.read_csv), ("parquet", pl.read_parquet), ("jsonl", read_jsonl), ("json", read_json)]:
        out = tmp_path / f"e.{fmt}"
        devtrace_here("export", "--path", str(filled), "--format", fmt, "--out", str(out), cwd=repo)
        columns.append(read(out).columns)
    assert columns[0] == columns[1] == columns[2] == columns[3]


def test_export_to_a_file_without_a_known_suffix_writes_csv(filled, repo, tmp_path):
    """0.2.0's default format, kept where the file name does not say otherwise."""
    out = tmp_path / "events.out"
    assert devtrace_here("export", "--path", str(filled), "--out", str(out), cwd=repo).returncode == 0
    assert pl.read_csv(out).height == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["events"], b"no DevTrace store"),
        (["export", "--format", "xlsx", "--out", "x.xlsx"], b"unknown format 'xlsx'"),
        (["export", "--format", "csv", "--out", "missing/dir/x.csv"], b"does not exist"),
    ],
)
def test_reading_errors_are_one_line(repo, tmp_path, args, message):
    if args[0] == "export":
        assert devtrace_here("init", "--path", str(tmp_path / "s"), cwd=repo).returncode == 0
    done = devtrace(*args, "--path", str(tmp_path / "s"), cwd=repo)
    assert done.returncode == 1
    assert message in done.stderr and done.stderr.count(b"\n") == 1
    assert b"Traceback" not in done.stderr


def test_demo_runs_end_to_end(tmp_path):
    work = tmp_path / "demo"
    done = devtrace("demo", "--dir", str(work), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    events = rows(work / "store")
    assert len(events) >= 8
    assert {e["exit_code"] for e in events} >= {0, 1, 124}
    assert all(e["predicted_productivity"] is not None and e["model_ref"] == "v1" for e in events)
    assert (work / "report.html").stat().st_size > 10_000
    assert b"retry_loops" in done.stdout and b"Try next" in done.stdout
    # The teams part: both machines pushed to the loopback server and one query saw both.
    assert b"events: 8 sent, 8 accepted" in done.stdout and b"events: 2 sent, 2 accepted" in done.stdout
    assert b"laptop" in done.stdout and b"desktop-agent" in done.stdout


def test_demo_refuses_a_file_as_its_folder_in_one_sentence(tmp_path):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine\n")
    done = devtrace("demo", "--dir", str(taken), cwd=tmp_path, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr == f"devtrace: {taken} is a file; the demo needs a new or empty folder\n"
    assert taken.read_text() == "mine\n"

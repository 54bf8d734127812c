"""Quick reads: `devtrace events` reads only the newest rows, yet shows exactly the `events` view."""

import json
import subprocess
import sys

import pytest

from devtrace import analytics
from tests.analytics_support import JAN_1, build_store, event, no_git
from tests.support import devtrace, devtrace_env, devtrace_here, rows

NEWEST_OF_THE_VIEW = """
SELECT * FROM (SELECT * FROM events {where} ORDER BY executed_at DESC, id DESC LIMIT {limit})
ORDER BY executed_at, id
"""


@pytest.fixture
def awkward(tmp_path):
    """Events whose values a text round trip would damage: timestamps to the microsecond,
    scores like 0.1 + 0.2, ties on executed_at (listed by id), NULL git fields; two agents,
    and labels: two human labels on one event (the later one counts), a pseudo label."""
    at = JAN_1 + 0.123457
    events = [
        event(at, id="evt_b", agent_id="codex", predicted_productivity=0.1 + 0.2, top_contribution_value=-1 / 3,
              scored_at=at + 1e-6, model_ref="v1", top_contribution_feature="log_churn"),
        event(at, id="evt_a", agent_id="codex", duration_ms=7),
        event(at + 1.000001, id="evt_c", agent_id="claude", exit_code=2, timed_out=1),
        {**event(at + 2.5, id="evt_d", agent_id=None), **no_git()},
        event(at + 3, id="evt_e", agent_id="codex", ended_at=at + 3 + 1 / 7),
    ]
    labels = [
        ("evt_e", 40.0, "human", "ana", "first thought", JAN_1 + 10),
        ("evt_e", 72.5, "human", "bo", "on reflection", JAN_1 + 20.000001),
        ("evt_c", 10.0, "pseudo", "model", None, JAN_1 + 30),
    ]
    return build_store(tmp_path / "store", events, labels)


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 50])
@pytest.mark.parametrize("agent", [None, "codex", "nobody"])
def test_newest_events_are_the_views_newest_rows_exactly(awkward, limit, agent):
    where = "" if agent is None else f"WHERE agent_id = '{agent}'"
    expected = analytics.sql(NEWEST_OF_THE_VIEW.format(where=where, limit=limit), path=awkward)
    got = analytics.events(path=awkward, limit=limit, agent=agent)
    assert got.schema == expected.schema
    assert got.rows() == expected.rows()  # exact: no float or timestamp lost a digit


def test_events_json_has_the_views_columns_types_and_values(awkward, tmp_path):
    done = devtrace_here("events", "--path", str(awkward), "--json", cwd=tmp_path, text=True)
    assert done.returncode == 0, done.stderr
    whole_view = devtrace_here("sql", "SELECT * FROM events ORDER BY executed_at, id", "--format", "json",
                          "--path", str(awkward), cwd=tmp_path, text=True)
    assert json.loads(done.stdout) == json.loads(whole_view.stdout)
    assert list(json.loads(done.stdout)[0]) == list(analytics.sql("SELECT * FROM events", path=awkward).columns)
    latest = json.loads(done.stdout)[-1]
    assert (latest["id"], latest["human_label"], latest["human_label_by"]) == ("evt_e", 72.5, "bo")
    assert latest["human_label_at"] == "2024-01-01 00:00:20.000001" and latest["timed_out"] is False


def test_an_80_column_terminal_leads_with_when_and_the_command(repo, store):
    for agent in ("codex", "claude"):
        done = devtrace("run", "--agent", agent, "--path", str(store), "--", "sh", "-c", f"echo {agent}", cwd=repo)
        assert done.returncode == 0
    shown = devtrace_here("events", "--path", str(store), cwd=repo, env=devtrace_env(COLUMNS="80"), text=True)
    header, rule, *lines = shown.stdout.splitlines()
    assert header.split() == ["when", "command", "exit", "took"]  # a 36-character event id does not fit beside them
    assert [line.split()[2:5] for line in lines] == [["sh", "-c", "'echo"]] * 2
    assert all(line[:4].isdigit() and line[4] == "-" for line in lines)  # a local ISO date
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    wider = devtrace_here("events", "--path", str(store), cwd=repo, env=devtrace_env(COLUMNS="100"), text=True)
    header, rule, *lines = wider.stdout.splitlines()
    assert header.split() == ["when", "command", "exit", "took", "event", "who"]
    assert [line.split()[-2:] for line in lines] == [[r["id"], r["agent_id"]] for r in rows(store)]
    assert max(len(line) for line in wider.stdout.splitlines()) <= 100


def test_events_into_a_pipe_keep_every_column(repo, store):
    devtrace("run", "--agent", "codex", "--path", str(store), "--", "true", cwd=repo)
    env = devtrace_env()
    env.pop("COLUMNS", None)
    shown = devtrace("events", "--path", str(store), cwd=repo, env=env, text=True)
    assert shown.stdout.splitlines()[0].split()[:6] == ["when", "command", "exit", "took", "event", "who"]
    assert rows(store)[0]["id"] in shown.stdout


def test_a_narrow_terminal_drops_the_last_columns_first(repo, store):
    devtrace("run", "--agent", "codex", "--path", str(store), "--", "true", cwd=repo)
    shown = devtrace_here("events", "--path", str(store), cwd=repo, env=devtrace_env(COLUMNS="40"), text=True)
    header = shown.stdout.splitlines()[0].split()
    assert header == ["when", "command", "exit", "took"]
    assert max(len(line) for line in shown.stdout.splitlines()) <= 40


@pytest.mark.parametrize("with_model", [False, True])
def test_events_loads_no_ml_and_no_frames_when_nothing_is_pending(with_model, model_store, tmp_path):
    store = tmp_path / "store"
    build_store(store, [event(JAN_1, id="evt_scored", predicted_productivity=50.0, scored_at=JAN_1 + 1)])
    if with_model:
        (store / "model-xgb").mkdir()
        for name in ("model.json", "metadata.json"):
            (store / "model-xgb" / name).write_bytes((model_store / "model-xgb" / name).read_bytes())
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "devtrace", "events", "--path", str(store)],
                          cwd=tmp_path, env=devtrace_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "duckdb" in imported  # the measurement saw the read
    assert not imported & {"xgboost", "numpy", "polars", "pyarrow", "pydantic", "rich"}

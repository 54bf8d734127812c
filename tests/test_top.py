"""`devtrace top` and the `time_spent` / `top` views: where the time went, human and agent side by side."""

import json
import time

import pytest

from devtrace import analytics
from tests.analytics_support import build_store, event
from tests.support import devtrace, devtrace_env

NOW = time.time() - 3600  # an hour ago: inside the default 7 days


@pytest.fixture
def week(tmp_path):
    """A person's and an agent's hour in one repo, and an agent's run 30 days ago.

    The agent's `pytest -q` fails twice, each retried within a minute, then passes: a retry
    loop that lost 2 × 4 s. The person runs `make` (60 s) and `git status` (0.5 s)."""
    pytest_q = {"command_hash": "1" * 64, "program": "pytest", "command_text": "pytest -q"}
    events = [
        event(NOW, **pytest_q, agent_id="codex", author_kind="agent", duration_ms=4000, exit_code=1),
        event(NOW + 10, **pytest_q, agent_id="codex", author_kind="agent", duration_ms=4000, exit_code=1),
        event(NOW + 20, **pytest_q, agent_id="codex", author_kind="agent", duration_ms=4000, exit_code=0),
        event(NOW + 30, command_hash="2" * 64, program="make", command_text="make -j4 test", agent_id=None,
              author_kind="human", session_id="s2", duration_ms=60000, exit_code=2),
        event(NOW + 100, command_hash="3" * 64, program="git", command_text=None, agent_id=None,
              author_kind="human", session_id="s2", duration_ms=500),
        event(NOW - 30 * 86400, **pytest_q, agent_id="codex", author_kind="agent", duration_ms=99000),
    ]
    return build_store(tmp_path / "store", events)


def _top(store, by: str, since=None) -> dict:
    with analytics.connect(store) as con:
        if since is not None:
            con.execute("SET VARIABLE top_since = ?", [since])
        relation = con.sql('SELECT * FROM top WHERE "by" = ?', params=[by])
        return {row[1]: dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()}


def test_time_lost_in_retry_loops_is_the_failed_runs_that_were_redone(week):
    with analytics.connect(week) as con:
        lost = con.sql("SELECT command, lost_in_retry_ms FROM time_spent ORDER BY executed_at").fetchall()
    assert lost == [("pytest -q", 0), ("pytest -q", 4000), ("pytest -q", 4000), ("pytest -q", 0),
                    ("make -j4 test", 0), (f"git [{'3' * 8}]", 0)]


def test_top_by_command_over_a_period(week):
    import datetime as dt

    since = dt.datetime.fromtimestamp(NOW - 86400, dt.UTC).replace(tzinfo=None)
    got = _top(week, "command", since)
    assert set(got) == {"pytest -q", "make -j4 test", f"git [{'3' * 8}]"}
    pytest_q, make = got["pytest -q"], got["make -j4 test"]
    assert (pytest_q["wall_ms"], pytest_q["runs"], pytest_q["failures"], pytest_q["lost_in_retry_ms"]) == (12000, 3, 2, 8000)
    assert (pytest_q["agent_ms"], pytest_q["human_ms"], pytest_q["agent_runs"]) == (12000, 0, 3)
    assert (make["human_ms"], make["human_failures"], make["agent_ms"]) == (60000, 1, 0)
    assert make["share"] == pytest.approx(60000 / 72500)
    assert sum(row["share"] for row in got.values()) == pytest.approx(1)
    everything = _top(week, "command")  # no period: the run 30 days ago counts too
    assert everything["pytest -q"]["wall_ms"] == 12000 + 99000


def test_top_by_program_repo_and_agent(week):
    assert {k: v["wall_ms"] for k, v in _top(week, "program").items()} == {"pytest": 111000, "make": 60000, "git": 500}
    assert {k: v["runs"] for k, v in _top(week, "repo").items()} == {"repo_1": 6}
    agents = _top(week, "agent")
    assert {k: (v["wall_ms"], v["failures"]) for k, v in agents.items()} == {"codex": (111000, 2), "human": (60500, 1)}


def test_the_top_command_answers_where_the_time_went(week, tmp_path):
    done = devtrace("top", "--path", str(week), cwd=tmp_path, env=devtrace_env(COLUMNS="80"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[0].startswith("1 min 13 s in 5 commands since ")
    assert lines[1] == "3 failed; 8.0 s lost to failed runs that were retried"
    assert lines[2].split() == ["you:", "1", "min", "01", "s", "2", "commands", "1", "failed"]
    assert lines[3].split() == ["agents:", "12.0", "s", "3", "commands", "2", "failed"]
    table = lines[5:]
    assert table[0].split() == ["share", "time", "runs", "failed", "lost", "you", "agents", "command"]
    assert table[2].split()[:4] == ["83%", "1", "min", "00"] and table[2].endswith("make -j4 test")
    assert table[3].endswith("pytest -q") and table[4].endswith(f"git [{'3' * 8}]")
    assert all(len(line) <= 80 for line in lines)
    by_agent = json.loads(devtrace("top", "--by", "agent", "--since", "all", "--json", "--path", str(week),
                                   cwd=tmp_path).stdout)
    assert [(r["key"], r["wall_ms"]) for r in by_agent] == [("codex", 111000), ("human", 60500)]


@pytest.mark.parametrize(("args", "message"), [(["--by", "colour"], "--by takes command, program, repo, agent"),
                                                 (["--since", "soon"], "--since takes 30m, 12h, 7d")])
def test_bad_options_are_one_sentence(week, tmp_path, args, message):
    done = devtrace("top", *args, "--path", str(week), cwd=tmp_path)
    assert done.returncode == 1 and message in done.stderr.decode() and b"Traceback" not in done.stderr


def test_an_empty_period_says_so(tmp_path):
    store = build_store(tmp_path / "s", [event(NOW - 90 * 86400)])
    done = devtrace("top", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.decode().startswith("No commands recorded since ")

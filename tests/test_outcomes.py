"""Outcome views (sql/views/20_next_green, 20_outcomes, 30_time_to_green, 30_stuck_sessions)
over stores filled by the real `devtrace run` in a real git repository."""

import math
import re
from pathlib import Path

import pytest

from devtrace import analytics
from tests.analytics_support import DAY, JAN_1, build_store, event
from tests.support import devtrace, devtrace_env, git, rows

CHECK = 'grep -q fixed a.txt || { echo "a.txt is not fixed"; exit 1; }\n'


def run(repo: Path, store: Path, *command: str, session: str = "ses_outcomes") -> None:
    env = devtrace_env(DEVTRACE_SESSION=session, DEVTRACE_AGENT="claude-code")
    done = devtrace("run", "--path", str(store), "--keep-noop", "--quiet", "--", *command, cwd=repo, env=env)
    assert done.stderr == b"", done.stderr  # the exit status is the command's own


def outcomes(store: Path, sql: str, **variables) -> list[dict]:
    with analytics.connect(store) as con:
        for name, value in variables.items():
            con.execute(f"SET VARIABLE {name} = {value}")
        relation = con.sql(sql)
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


@pytest.fixture
def captured(repo: Path, store: Path) -> dict:
    """A session: a test fails, an edit fixes it, the test passes, the fix is committed; a
    second command fails three times and never passes; an edit is discarded."""
    (repo / "check.sh").write_text(CHECK)
    (repo / "never.sh").write_text("exit 3\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "checks")
    run(repo, store, "sh", "check.sh")                                 # 0 fails
    run(repo, store, "sh", "-c", "echo fixed >> a.txt")                # 1 the fix
    run(repo, store, "sh", "check.sh")                                 # 2 green
    run(repo, store, "git", "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qam", "fix")  # 3
    for _ in range(3):
        run(repo, store, "sh", "never.sh")                             # 4-6 a loop that never passes
    run(repo, store, "sh", "-c", "echo wrong >> b.txt")                # 7 a change ...
    run(repo, store, "git", "checkout", "--", "b.txt")                 # 8 ... discarded
    events = rows(store)
    assert len(events) == 9
    return {"ids": [e["id"] for e in events], "events": events}


def test_capture_records_a_keyed_head_that_changes_with_a_commit(captured):
    heads = [e["head_hash"] for e in captured["events"]]
    assert all(h and h.startswith("head_") and len(h) == 21 for h in heads)
    assert heads[0] == heads[1] == heads[2] != heads[3] == heads[8]  # only the commit moved HEAD


def test_time_to_green_of_a_failure_fixed_by_a_later_run(captured, store):
    by_id = {r["id"]: r for r in outcomes(store, "SELECT * FROM outcomes")}
    first, green = captured["events"][0], captured["events"][2]
    fail = by_id[first["id"]]
    assert fail["failed"] and not fail["never_green"]
    assert math.isclose(fail["time_to_green_s"], green["ended_at"] - first["ended_at"], abs_tol=1e-5)
    assert by_id[green["id"]]["turned_green"] and not by_id[captured["ids"][1]]["turned_green"]
    assert by_id[green["id"]]["outcome_label"] == 85  # it turned a red run green, changed nothing


def test_a_loop_that_never_passes_is_stuck_and_labelled_low(captured, store):
    later = captured["events"][-1]["ended_at"] + 2 * DAY  # the outcome window has passed
    by_id = {r["id"]: r for r in outcomes(store, "SELECT * FROM outcomes", outcomes_now=later)}
    loop = [by_id[i] for i in captured["ids"][4:7]]
    assert [r["loop_position"] for r in loop] == [1, 2, 3]
    assert all(r["stuck"] and r["loop_runs"] == 3 and r["never_green"] for r in loop)
    assert [r["outcome_label"] for r in loop] == [20, 15, 10]
    assert not by_id[captured["ids"][0]]["stuck"]  # a failure fixed later is not stuck
    stuck = outcomes(store, "SELECT * FROM stuck_sessions", outcomes_now=later)
    assert len(stuck) == 1 and stuck[0]["session_id"] == "ses_outcomes"
    assert stuck[0]["longest_loop"] == 3 and stuck[0]["longest_loop_program"] == "sh"
    assert not stuck[0]["in_loop_now"]  # two days later: over
    assert outcomes(store, "SELECT in_loop_now FROM stuck_sessions") == [{"in_loop_now": True}]


def test_an_edit_that_reaches_a_commit_is_kept_and_one_discarded_is_abandoned(captured, store):
    by_id = {r["id"]: r for r in outcomes(store, "SELECT * FROM outcomes")}
    fix, wrong = by_id[captured["ids"][1]], by_id[captured["ids"][7]]
    assert fix["changed"] and fix["kept"] and not fix["abandoned"]
    assert fix["outcome_label"] == 85  # passed (70) and kept (+15)
    assert wrong["changed"] and wrong["abandoned"] and wrong["kept"] is False
    assert wrong["outcome_label"] == 30
    assert by_id[captured["ids"][2]]["changed"] is False  # the test run changed nothing


def test_outcome_labels_wait_for_their_window(captured, store):
    """The last loop's failures are not judged until the window has passed: no label yet."""
    by_id = {r["id"]: r for r in outcomes(store, "SELECT * FROM outcomes")}
    assert all(by_id[i]["never_green"] is None and by_id[i]["outcome_label"] is None for i in captured["ids"][4:7])


def test_time_to_green_view_per_repo_command_and_author(tmp_path):
    """Hand-built: an agent's failing command goes green after 60 s and 600 s and never once;
    a person's run of the same command in the same repo is a row of its own."""
    fail, ok = {"exit_code": 1, "author_kind": "agent"}, {"author_kind": "agent"}
    events = [
        event(JAN_1, **fail), event(JAN_1 + 60, **ok),
        event(JAN_1 + 1000, **fail), event(JAN_1 + 1600, **ok),
        event(JAN_1 + 5000, **fail, session_id="s2"),
        event(JAN_1 + 3 * DAY, exit_code=1, author_kind="human", session_id="s3"),
        event(JAN_1 + 3 * DAY + 30, author_kind="human", session_id="s3"),
    ]
    store = build_store(tmp_path / "store", events)
    got = outcomes(store, "SELECT * FROM time_to_green ORDER BY author_kind")
    agent, human = got
    assert (agent["author_kind"], agent["failures"], agent["went_green"]) == ("agent", 3, 2)
    assert math.isclose(agent["median_time_to_green_s"], 330.0, abs_tol=1e-3)
    assert math.isclose(agent["p90_time_to_green_s"], 60 + 0.9 * 540, abs_tol=1e-3)
    assert math.isclose(agent["share_never_green"], 1 / 3)
    assert human["failures"] == 1 and math.isclose(human["median_time_to_green_s"], 30.0, abs_tol=1e-3)
    window = outcomes(store, "SELECT failures, went_green FROM time_to_green WHERE author_kind = 'agent'",
                      outcome_window_seconds=300)
    assert window == [{"failures": 3, "went_green": 1}]  # 600 s is outside a 5-minute window


def falling_store(tmp_path: Path) -> Path:
    """Two sessions of four failures: "falling", whose predicted outcomes fall 60, 45, 35, 20
    (scored by v3), and "steady", whose go up and down around 30 (v2)."""
    from devtrace.store import open_store
    from devtrace.store.scores import write_scores

    events = [event(JAN_1 + 60 * i, id=f"f{i}", exit_code=1, session_id="falling", agent_id="codex") for i in range(4)]
    events += [event(JAN_1 + 60 * i + 1, id=f"s{i}", exit_code=1, session_id="steady", command_hash="b" * 64)
               for i in range(4)]
    store = build_store(tmp_path / "store", events)
    conn = open_store(store)
    write_scores(conn, [("f0", 60, "exit_class", 1.0), ("f1", 45, "exit_class", 1.0), ("f2", 35, "exit_class", 1.0),
                        ("f3", 20, "retry_streak", -9.0)], "v3")
    write_scores(conn, [(f"s{i}", 30 + (i % 2), "exit_class", 1.0) for i in range(4)], "v2")
    conn.close()
    return store


def test_events_flags_a_session_whose_predicted_outcomes_fall_and_names_the_model(tmp_path):
    store = falling_store(tmp_path)
    done = devtrace("events", "--path", str(store), cwd=tmp_path, env={**devtrace_env(), "COLUMNS": "200"}, text=True)
    assert done.returncode == 0, done.stderr
    header, _, *lines = done.stdout.splitlines()
    assert "flag" in header and "model" in header
    flagged = {e for line in lines if "likely stuck" in line for e in ("f0", "f1", "f2", "f3", "s0") if f" {e} " in line}
    assert flagged == {"f2", "f3"}  # the third and fourth falling scores; "steady" goes up and down
    for line in lines:
        shown_id = re.search(r" ([fs]\d) ", line).group(1)
        assert (" v3 " if shown_id.startswith("f") else " v2 ") in line, line


def test_the_labeling_app_shows_the_session_around_an_event_and_what_followed(captured, store):
    from devtrace.ml.labeling_queue import outcome_facts, session_window

    events = analytics.events(path=store)
    later = captured["events"][-1]["ended_at"] + 2 * DAY
    by_id = {r["id"]: r for r in outcomes(store, "SELECT * FROM outcomes", outcomes_now=later)}
    middle = events.filter(events["id"] == captured["ids"][5]).row(0, named=True)
    window = session_window(events, middle)
    assert window["id"].to_list() == captured["ids"][0:9]  # five before (only five), three after
    assert window["this"].to_list() == [""] * 5 + ["▶"] + [""] * 3
    assert window["command"][5] == "sh never.sh" and window["command"][3].startswith("git ")  # the recorded text
    facts = outcome_facts(by_id[captured["ids"][5]])
    assert facts == {"Outcome label (suggested)": "15", "Retry loop": "run 2 of 3, never passed (stuck)",
                     "Went green": "never (within the window)"}
    fix = outcome_facts(by_id[captured["ids"][1]])
    assert fix["Its change"] == "committed" and fix["Retry loop"] == "not in a retry loop"
    assert outcome_facts(None) == {"Outcome label (suggested)": "— (not observable yet)"}


def test_top_names_the_sessions_likely_stuck(tmp_path):
    store = falling_store(tmp_path)
    done = devtrace("top", "--since", "all", "--path", str(store), cwd=tmp_path, env=devtrace_env(), text=True)
    assert done.returncode == 0, done.stderr
    flagged = [line for line in done.stdout.splitlines() if "likely stuck" in line]
    assert flagged == ["1 likely stuck (predicted outcomes falling): falling (codex)"]
    later = devtrace("top", "--since", "2100-01-01", "--path", str(store), cwd=tmp_path, env=devtrace_env(), text=True)
    assert later.returncode == 0 and "likely stuck" not in later.stdout  # none in that period


def test_the_report_lists_the_sessions_likely_stuck(tmp_path):
    from devtrace.analytics.report import build_report

    store = falling_store(tmp_path)
    with analytics.connect(store) as con:
        page = build_report(con, "a test")
    table = re.search(r"<h3>Likely stuck sessions</h3>(.*?)</section>", page, re.S)[1]
    assert "1 row," in table and "<td>falling</td><td>codex</td><td class=\"num\">2</td>" in table
    assert "steady" not in table


def test_the_analysis_notebook_warns_of_the_sessions_likely_stuck(tmp_path, monkeypatch):
    from tests.notebook_support import run_notebook_with_outputs

    store = falling_store(tmp_path)
    outputs, defs = run_notebook_with_outputs("analysis", store, monkeypatch)
    assert defs["likely_stuck"].select("session_id", "who", "flagged_events", "last_flagged_score", "still_falling").rows() == [
        ("falling", "codex", 2, 20.0, True)]
    shown = [o.text for o in outputs if o is not None and hasattr(o, "text")]
    assert any("1 likely stuck" in text and "falling" in text for text in shown), shown

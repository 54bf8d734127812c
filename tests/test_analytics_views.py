"""Each view on small hand-built stores whose answers were worked out by hand (in the comments)."""

import sqlite3
from datetime import date, datetime

import polars as pl
import pytest

from devtrace import analytics
from tests.analytics_support import DAY, JAN_1, build_store, event, no_git

A, B, T, EDIT = "a" * 64, "b" * 64, "t" * 64, "e" * 64


@pytest.fixture
def dashboard_store(tmp_path):
    """Six events over two UTC days, two agents, three sessions, two commands."""
    return build_store(tmp_path / "store", [
        event(JAN_1 + 3600, id="e1", command_hash=A, duration_ms=100, delta_lines_added=10,
              delta_lines_deleted=1, predicted_productivity=80.0),
        event(JAN_1 + 7200, **no_git(id="e2", command_hash=A, duration_ms=200, exit_code=1)),
        event(JAN_1 + 10800, id="e3", command_hash=B, program="make", duration_ms=300,
              delta_lines_added=5, delta_lines_deleted=2, predicted_productivity=60.0),
        event(JAN_1 + DAY - 1, id="e4", command_hash=B, program="make", duration_ms=400, exit_code=124,
              timed_out=1, session_id="s2"),
        event(JAN_1 + 5000, **no_git(id="e5", agent_id="codex", command_hash=A, duration_ms=50, session_id="s3")),
        event(JAN_1 + DAY + 60, id="e6", command_hash=A, duration_ms=1000, delta_lines_added=3,
              delta_lines_deleted=4, predicted_productivity=90.0, session_id="s2"),
    ])


def rows(frame: pl.DataFrame, *keys: str) -> list[dict]:
    return frame.sort(list(keys), nulls_last=True).rows(named=True)


def test_daily_activity(dashboard_store):
    got = rows(analytics.sql("SELECT * FROM daily_activity", path=dashboard_store), "day", "agent_id")
    assert got == [
        # e1..e4 (e4 at 23:59:59 is still Jan 1 in UTC); e2 has no git data, so 10+5+0 and 1+2+0;
        # durations 100..400: median 250, p95 = 300 + 0.85 * 100; scores 80 and 60.
        {"day": date(2024, 1, 1), "agent_id": "claude", "commands": 4, "failures": 2, "timeouts": 1,
         "failure_rate": 0.5, "lines_added": 15, "lines_deleted": 3, "median_duration_ms": 250.0,
         "p95_duration_ms": pytest.approx(385.0), "mean_predicted_productivity": 70.0},
        # e5 outside git: lines unknown (NULL), not zero.
        {"day": date(2024, 1, 1), "agent_id": "codex", "commands": 1, "failures": 0, "timeouts": 0,
         "failure_rate": 0.0, "lines_added": None, "lines_deleted": None, "median_duration_ms": 50.0,
         "p95_duration_ms": 50.0, "mean_predicted_productivity": None},
        {"day": date(2024, 1, 2), "agent_id": "claude", "commands": 1, "failures": 0, "timeouts": 0,
         "failure_rate": 0.0, "lines_added": 3, "lines_deleted": 4, "median_duration_ms": 1000.0,
         "p95_duration_ms": 1000.0, "mean_predicted_productivity": 90.0},
    ]


def test_agent_summary(dashboard_store):
    got = rows(analytics.sql("SELECT * FROM agent_summary", path=dashboard_store), "agent_id")
    assert got == [
        # durations 100, 200, 300, 400, 1000: median 300, p95 = 400 + 0.8 * 600.
        {"agent_id": "claude", "commands": 5, "failures": 2, "timeouts": 1, "failure_rate": 0.4,
         "lines_added": 18, "lines_deleted": 7, "median_duration_ms": 300.0,
         "p95_duration_ms": pytest.approx(880.0), "mean_predicted_productivity": pytest.approx(230 / 3),
         "active_days": 2, "first_seen": datetime(2024, 1, 1, 1, 0), "last_seen": datetime(2024, 1, 2, 0, 1)},
        {"agent_id": "codex", "commands": 1, "failures": 0, "timeouts": 0, "failure_rate": 0.0,
         "lines_added": None, "lines_deleted": None, "median_duration_ms": 50.0, "p95_duration_ms": 50.0,
         "mean_predicted_productivity": None, "active_days": 1,
         "first_seen": datetime(2024, 1, 1, 1, 23, 20), "last_seen": datetime(2024, 1, 1, 1, 23, 20)},
    ]


def test_command_stats(dashboard_store):
    got = rows(analytics.sql("SELECT * FROM command_stats", path=dashboard_store), "command_hash")
    assert got == [
        # A: e1, e2, e5, e6; durations 50, 100, 200, 1000 (p95 = 200 + 0.85 * 800);
        # churn 11 (e1) and 7 (e6), e2 and e5 unknown.
        {"command": f"pytest [{A[:8]}]", "command_hash": A, "program": "pytest", "key_fingerprint": None,
         "runs": 4, "failures": 1, "failure_rate": 0.25,
         "median_duration_ms": 150.0, "p95_duration_ms": pytest.approx(880.0), "mean_churn": 9.0,
         "agents": 2, "last_run": datetime(2024, 1, 2, 0, 1)},
        # B: e3, e4; churn 7 and 0.
        {"command": f"make [{B[:8]}]", "command_hash": B, "program": "make", "key_fingerprint": None, "runs": 2, "failures": 1, "failure_rate": 0.5,
         "median_duration_ms": 350.0, "p95_duration_ms": pytest.approx(395.0), "mean_churn": 3.5,
         "agents": 1, "last_run": datetime(2024, 1, 1, 23, 59, 59)},
    ]


def test_totals(dashboard_store):
    got = analytics.sql("SELECT * FROM totals", path=dashboard_store).rows(named=True)
    # e2 and e4 failed; claude and codex; scores 80, 60 and 90, each event weighing the same.
    assert got == [{"commands": 6, "failures": 2, "failure_rate": pytest.approx(1 / 3), "agents": 2,
                    "mean_predicted_productivity": pytest.approx(230 / 3)}]


def test_totals_count_named_agents_only(tmp_path):
    store = build_store(tmp_path / "store", [event(JAN_1, agent_id=None), event(JAN_1 + 1, agent_id=None)])
    assert analytics.sql("SELECT commands, agents FROM totals", path=store).rows() == [(2, 0)]


def test_duration_histogram(dashboard_store):
    got = rows(analytics.sql("SELECT * FROM duration_histogram", path=dashboard_store), "agent_id", "log10_ms")
    # log10 of 100, 200, 300, 400, 1000 ms is 2, 2.30, 2.48, 2.60, 3: quarter bins 2, 2.25, 2.25, 2.5, 3;
    # codex's 50 ms: log10 1.70, bin 1.5.
    assert got == [
        {"agent_id": "claude", "log10_ms": 2.0, "commands": 1},
        {"agent_id": "claude", "log10_ms": 2.25, "commands": 2},
        {"agent_id": "claude", "log10_ms": 2.5, "commands": 1},
        {"agent_id": "claude", "log10_ms": 3.0, "commands": 1},
        {"agent_id": "codex", "log10_ms": 1.5, "commands": 1},
    ]


def test_daily_model_scores(tmp_path):
    store = build_store(tmp_path / "store", [
        event(JAN_1, predicted_productivity=80.0, model_ref="v1"),
        event(JAN_1 + 60, predicted_productivity=60.0, model_ref="v1"),
        event(JAN_1 + 120, predicted_productivity=40.0, model_ref="v2"),
        event(JAN_1 + 180),
        event(JAN_1 + DAY, predicted_productivity=90.0, model_ref="v2"),
    ])
    got = rows(analytics.sql("SELECT * FROM daily_model_scores", path=store), "day", "model_ref")
    assert got == [
        {"day": date(2024, 1, 1), "model_ref": "v1", "events": 2, "scored": 2, "mean_predicted_productivity": 70.0},
        {"day": date(2024, 1, 1), "model_ref": "v2", "events": 1, "scored": 1, "mean_predicted_productivity": 40.0},
        {"day": date(2024, 1, 1), "model_ref": None, "events": 1, "scored": 0, "mean_predicted_productivity": None},
        {"day": date(2024, 1, 2), "model_ref": "v2", "events": 1, "scored": 1, "mean_predicted_productivity": 90.0},
    ]

def test_sessions(dashboard_store):
    got = rows(analytics.sql("SELECT * FROM sessions", path=dashboard_store), "session_id")
    assert got == [
        # e1 01:00 .. e3 03:00 + 0.3 s; e2 is outside git, so 10+5 / 1+2 and one repo.
        # A and B took 300 ms each: the command is the one run last, e3's.
        {"command": "make [bbbbbbbb]", "session_id": "s1", "agents": "claude", "started_at": datetime(2024, 1, 1, 1, 0),
         "ended_at": datetime(2024, 1, 1, 3, 0, 0, 300_000), "span_seconds": pytest.approx(7200.3),
         "commands": 3, "failures": 1, "lines_added": 15, "lines_deleted": 3, "lines_changed": 18, "repos": 1},
        # e4 23:59:59 .. e6 00:01:00 + 1 s; A took 1000 ms, B 400.
        {"command": "pytest [aaaaaaaa]", "session_id": "s2", "agents": "claude", "started_at": datetime(2024, 1, 1, 23, 59, 59),
         "ended_at": datetime(2024, 1, 2, 0, 1, 1), "span_seconds": pytest.approx(62.0),
         "commands": 2, "failures": 1, "lines_added": 3, "lines_deleted": 4, "lines_changed": 7, "repos": 1},
        {"command": "pytest [aaaaaaaa]", "session_id": "s3", "agents": "codex", "started_at": datetime(2024, 1, 1, 1, 23, 20),
         "ended_at": datetime(2024, 1, 1, 1, 23, 20, 50_000), "span_seconds": pytest.approx(0.05),
         "commands": 1, "failures": 0, "lines_added": None, "lines_deleted": None, "lines_changed": None,
         "repos": 0},
    ]


def test_sessions_list_every_agent_and_leave_out_events_without_a_session(tmp_path):
    store = build_store(tmp_path / "store", [
        event(JAN_1, agent_id="codex"),
        event(JAN_1 + 1, agent_id="claude"),
        event(JAN_1 + 2, agent_id="codex"),
        event(JAN_1 + 3, session_id=None),  # as migrated from DevTrace 0.2.0
    ])
    got = analytics.sql("SELECT session_id, agents, commands FROM sessions", path=store)
    assert got.rows() == [("s1", "claude, codex", 3)]


@pytest.fixture
def retry_store(tmp_path):
    """Seconds after JAN_1; every run lasts 10 s. Failing runs of T by claude in session s1
    at 0 and 40, then a pass at 100 (an EDIT between does not break the loop); fails at 1000,
    1400 (390 s after the last run ended: a new loop) and 1500; passes at 3000 and 3010 (a
    re-run after a pass is no retry). codex fails T at 20 and 30 in the same session; claude
    fails T at 60 in session s2."""
    def run(at, exit_code, **fields):
        return event(JAN_1 + at, command_hash=T, duration_ms=10_000, exit_code=exit_code, **fields)

    return build_store(tmp_path / "store", [
        run(0, 1), run(40, 1), event(JAN_1 + 45, command_hash=EDIT, program="sed"), run(100, 0),
        run(1000, 1), run(1400, 1), run(1500, 1), run(3000, 0), run(3010, 0),
        run(20, 1, agent_id="codex"), run(30, 1, agent_id="codex"),
        run(60, 1, session_id="s2"),
    ])


def loops(frame: pl.DataFrame) -> list[tuple]:
    frame = frame.with_columns(
        (pl.col("started_at") - datetime(2024, 1, 1)).dt.total_seconds().alias("from"),
        (pl.col("ended_at") - datetime(2024, 1, 1)).dt.total_seconds().alias("to"),
    )
    columns = ["agent_id", "session_id", "from", "to", "runs", "retries", "failures", "resolved"]
    return sorted(frame.select(columns).rows())


def test_retry_loops(retry_store):
    got = analytics.sql("SELECT * FROM retry_loops", path=retry_store)
    assert set(got["command_hash"]) == {T} and set(got["program"]) == {"pytest"}
    assert set(got["command"]) == {f"pytest [{T[:8]}]"}
    assert loops(got) == [
        ("claude", "s1", 0, 110, 3, 2, 2, True),
        ("claude", "s1", 1400, 1510, 2, 1, 2, False),
        ("codex", "s1", 20, 40, 2, 1, 2, False),
    ]


def test_retry_window_counts_from_the_end_of_the_failed_run_and_includes_its_edge(tmp_path):
    """Session s1: a 10 s run fails at 0 and is retried exactly 300 s after it ended (at 310).
    Session s2: a 1,000 s run fails at 0 and is retried 60 s after it ended (at 1,060), long
    after it started. Session s3: retried 300.5 s after it ended: no loop."""
    def run(session, at, duration_s, exit_code):
        return event(JAN_1 + at, session_id=session, command_hash=T, duration_ms=duration_s * 1000, exit_code=exit_code)

    store = build_store(tmp_path / "store", [
        run("s1", 0, 10, 1), run("s1", 310, 10, 0),
        run("s2", 0, 1000, 1), run("s2", 1060, 10, 1),
        run("s3", 0, 10, 1), run("s3", 310.5, 10, 0),
    ])
    got = analytics.sql("SELECT * FROM retry_loops", path=store)
    assert loops(got) == [
        ("claude", "s1", 0, 320, 2, 1, 1, True),
        ("claude", "s2", 0, 1070, 2, 1, 2, False),
    ]


def test_retry_window_is_a_variable(retry_store):
    with analytics.connect(retry_store) as con:
        con.execute("SET VARIABLE retry_window_seconds = 1000")
        got = analytics.query(con, "SELECT * FROM retry_loops")
    # 1000 s: the run at 1400 now retries the one at 1000 (ended 1010); 3000 is 1490 s after 1510.
    assert loops(got) == [
        ("claude", "s1", 0, 110, 3, 2, 2, True),
        ("claude", "s1", 1000, 1510, 3, 2, 3, False),
        ("codex", "s1", 20, 40, 2, 1, 2, False),
    ]


@pytest.fixture
def labelled_store(tmp_path):
    """e1: no label, scored 42. e2: pseudo labels 30 then 35, scored 50. e3: human 90 (ana), then
    human 70 (bo), then a later pseudo 10. e4: nothing. e5: two human labels at the same instant.
    e6: a pseudo label 15. e1, e2 and e4 have no exit code (so no outcome label); e3, e5 and e6
    passed (outcome label 70)."""
    events = [
        event(JAN_1 + 1, id="e1", predicted_productivity=42.0, exit_code=None),
        event(JAN_1 + 2, id="e2", predicted_productivity=50.0, exit_code=None),
        event(JAN_1 + 3, id="e3"),
        event(JAN_1 + 4, id="e4", exit_code=None),
        event(JAN_1 + 5, id="e5", predicted_productivity=5.0),
        event(JAN_1 + 6, id="e6"),
    ]
    labels = [
        ("e2", 30.0, "pseudo", "model-1", None, JAN_1 + 100),
        ("e2", 35.0, "pseudo", "model-2", None, JAN_1 + 200),
        ("e3", 70.0, "human", "bo", "better", JAN_1 + 300),  # inserted first, but the latest
        ("e3", 90.0, "human", "ana", "good", JAN_1 + 150),
        ("e3", 10.0, "pseudo", "model-2", None, JAN_1 + 400),
        ("e5", 20.0, "human", "ana", None, JAN_1 + 500),
        ("e5", 25.0, "human", "ana", "second thoughts", JAN_1 + 500),  # same instant: the later row wins
        ("e6", 15.0, "pseudo", "model-2", None, JAN_1 + 600),
    ]
    return build_store(tmp_path / "store", events, labels)


def test_events_carry_the_latest_human_label_only(labelled_store):
    got = analytics.sql(
        "SELECT id, human_label, human_label_by, human_label_at, human_label_note FROM events ORDER BY id",
        path=labelled_store,
    )
    assert got.rows() == [
        ("e1", None, None, None, None),
        ("e2", None, None, None, None),  # pseudo labels are not human labels
        ("e3", 70.0, "bo", datetime(2024, 1, 1, 0, 5), "better"),
        ("e4", None, None, None, None),
        ("e5", 25.0, "ana", datetime(2024, 1, 1, 0, 8, 20), "second thoughts"),
        ("e6", None, None, None, None),
    ]


def test_training_set_labels(labelled_store):
    got = analytics.sql("SELECT id, productivity_label, label_source FROM training_set ORDER BY id", path=labelled_store)
    assert got.rows() == [
        ("e1", 42.0, None),  # the model's own score
        ("e2", 35.0, "pseudo"),
        ("e3", 70.0, "human"),
        ("e4", None, None),
        ("e5", 25.0, "human"),  # a human label wins over the outcome label
        ("e6", 70.0, "outcome"),  # an outcome label wins over a pseudo-label
    ]


def test_training_set_has_every_event_column(labelled_store):
    with analytics.connect(labelled_store) as con:
        events = [c[0] for c in con.sql("SELECT * FROM events").description]
        training = [c[0] for c in con.sql("SELECT * FROM training_set").description]
    assert training == [*events, "outcome_label", "productivity_label", "label_source"]


def test_events_are_typed_and_carry_every_capture_column(dashboard_store):
    frame = analytics.events(path=dashboard_store)
    conn = sqlite3.connect(dashboard_store / "devtrace.db")
    stored = [r[1] for r in conn.execute("PRAGMA table_info(command_events)")]
    conn.close()
    assert set(stored) - {"command_text"} <= set(frame.columns)  # the text is read as `command`
    assert {"command", "failed", "human_label", "human_label_by", "human_label_at", "human_label_note"} <= set(frame.columns)
    for column in ("executed_at", "started_at", "ended_at", "scored_at", "human_label_at"):
        assert frame.schema[column] == pl.Datetime("us"), column
    assert frame.schema["timed_out"] == pl.Boolean and frame.schema["failed"] == pl.Boolean
    e4 = frame.filter(pl.col("id") == "e4").row(0, named=True)
    assert e4["executed_at"] == datetime(2024, 1, 1, 23, 59, 59)
    assert e4["ended_at"] == datetime(2024, 1, 1, 23, 59, 59, 400_000)
    assert (e4["timed_out"], e4["failed"], e4["exit_code"]) == (True, True, 124)
    e2 = frame.filter(pl.col("id") == "e2").row(0, named=True)
    assert (e2["lines_added"], e2["delta_files"], e2["repo_id"], e2["failed"]) == (None, None, None, True)


def test_every_view_is_empty_on_an_empty_store(tmp_path):
    store = build_store(tmp_path / "store", [])
    for view in analytics.views():
        frame = analytics.sql(f"SELECT * FROM {view.name}", path=store)
        assert frame.height == 0 and frame.width > 0, view.name
    assert analytics.events(path=store, limit=5).columns == analytics.events(path=store).columns


def test_a_store_without_any_git_data_has_unknown_not_zero_lines(tmp_path):
    store = build_store(tmp_path / "store", [event(JAN_1 + i, **no_git(exit_code=i % 2)) for i in range(4)])
    daily = analytics.sql("SELECT commands, failures, lines_added, lines_deleted FROM daily_activity", path=store)
    assert daily.rows() == [(4, 2, None, None)]
    stats = analytics.sql("SELECT runs, mean_churn FROM command_stats", path=store)
    assert stats.rows() == [(4, None)]
    session = analytics.sql("SELECT lines_added, lines_changed, repos FROM sessions", path=store)
    assert session.rows() == [(None, None, 0)]
    agent = analytics.sql("SELECT lines_added, lines_deleted FROM agent_summary", path=store)
    assert agent.rows() == [(None, None)]

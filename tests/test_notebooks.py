"""The marimo notebooks against a fixture store with a trained model: run in-process with
`app.run()`, as scripts, through `marimo export html`, via the CLI, and in headless Chromium."""

import datetime as dt
import html
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import altair as alt
import marimo as mo
import polars as pl
import pytest

from devtrace import analytics
from devtrace.ml import training
from devtrace.ml.features import FEATURES
from devtrace.ml.pipeline import train_and_register
from devtrace.store import create_store, insert_event
from tests.analytics_support import JAN_1, build_store, event
from tests.browser import Browser, chromium_path
from tests.notebook_support import (
    NOTEBOOKS,
    REPO,
    MarimoServer,
    capture_real_commands,
    free_port,
    init_repo,
    insert_synthetic_sessions,
    label_a_few,
    marimo_env,
    run_notebook,
    run_notebook_with_outputs,
    train_active_model,
)
from tests.support import devtrace, devtrace_env, devtrace_here, rows

NAMES = ["analysis", "labeling", "retraining"]


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("notebooks")
    store = root / "store"
    capture_real_commands(init_repo(root / "repo"), store)
    frame = insert_synthetic_sessions(store)
    assert train_active_model(store, frame) == "v1"
    label_a_few(store, frame)
    return store


@pytest.fixture
def store(base_store, tmp_path) -> Path:
    """A copy of the fixture store for a test that writes to it."""
    return Path(shutil.copytree(base_store, tmp_path / "store"))


def chart_fields(chart: alt.TopLevelMixin) -> set[str]:
    """The data columns a chart encodes (after its fold/calculate transforms)."""
    spec = chart.to_dict()
    found = set()
    for channel in spec.get("encoding", {}).values():
        for item in channel if isinstance(channel, list) else [channel]:
            if "field" in item:
                found.add(item["field"])
    return found


# --- analysis -----------------------------------------------------------------------------


def test_analysis_defines_frames_and_charts_on_their_columns(base_store, monkeypatch):
    defs = run_notebook("analysis", base_store, monkeypatch)
    for frame in ("per_day", "per_command", "loops", "duration_bins", "recent_events"):
        assert defs[frame].height > 0, frame
    assert defs["recent_events"].height == 6 + 1200
    # It opens with where the time went; every table leads with the command as people read it.
    assert defs["where_time_went"].columns[:3] == ["command", "share", "time"] and defs["where_time_went"].height > 0
    assert defs["recent_events"].columns[0] == defs["per_command"].columns[0] == "command"
    assert "command_hash" not in defs["per_command"].columns + defs["loops"].columns
    assert set(defs["per_day"]["agent_id"]) >= {"human", "codex"}
    expected = {
        "activity_chart": ("per_day", {"day", "commands", "agent_id"}),
        "failure_chart": ("per_day", {"day", "failure_rate", "agent_id"}),
        "churn_chart": ("per_day", {"day", "lines"}),
        "duration_chart": ("duration_bins", {"log10_ms", "commands", "agent_id"}),
        "failing_chart": ("per_command", {"command", "failures", "failure_rate"}),
    }
    for name, (frame, fields) in expected.items():
        chart = defs[name]
        assert fields <= chart_fields(chart), name
        assert chart.data.height > 0 and set(chart.data.columns) <= set(defs[frame].columns), name
        assert fields - {"lines", "change"} <= set(chart.data.columns), name
    assert {"lines_added", "lines_deleted"} <= set(defs["churn_chart"].data.columns)
    # The retry chart carries one row per day and outcome: every loop and retry is in it once.
    retries, loops = defs["retry_chart"].data, defs["loops"]
    assert {"day", "retries", "resolved", "loops"} <= chart_fields(defs["retry_chart"])
    assert retries["loops"].sum() == loops.height and retries["retries"].sum() == loops["retries"].sum()
    assert retries.select("day", "resolved").is_unique().all() and retries.height < loops.height


def test_analysis_filters_narrow_every_view(base_store, monkeypatch):
    full = run_notebook("analysis", base_store, monkeypatch)
    agent_select = mo.ui.multiselect(options=full["agent_names"], value=["human"])
    day_range = mo.ui.date_range(value=(full["span"]["first_day"], full["span"]["last_day"]))
    program_select = mo.ui.multiselect(options=full["program_names"], value=["git", "sh"])
    narrowed = run_notebook(
        "analysis", base_store, monkeypatch,
        agent_select=agent_select, day_range=day_range, program_select=program_select,
    )
    assert set(narrowed["per_day"]["agent_id"]) == {"human"}
    assert set(narrowed["per_command"]["program"]) <= {"git", "sh"}
    assert 0 < narrowed["totals"]["commands"][0] < full["totals"]["commands"][0]
    assert set(narrowed["recent_events"]["program"]) <= {"git", "sh"}


def test_analysis_headline_weighs_every_event_and_counts_named_agents(store, monkeypatch):
    conn = create_store(store)
    try:
        insert_event(conn, event(time.time(), id="evt_no_agent", agent_id=None, program="ls"))
    finally:
        conn.close()
    events = analytics.events(path=store)
    totals = run_notebook("analysis", store, monkeypatch)["totals"].row(0, named=True)
    # The one human session weighs six events' worth, not as much as an agent with hundreds.
    assert totals["mean_predicted_productivity"] == pytest.approx(events["predicted_productivity"].mean())
    assert totals["agents"] == events["agent_id"].drop_nulls().n_unique()  # no agent is not an agent
    assert totals["commands"] == events.height


def shown_stats(outputs) -> dict:
    """label -> (value, caption) of every headline figure (mo.stat) the cells display."""
    found = {}
    for output in outputs:
        for element in re.findall(r"<marimo-stat ([^>]*)>", getattr(output, "text", None) or ""):
            data = {k: json.loads(html.unescape(v)) for k, v in re.findall(r"data-([a-z_]+)='([^']*)'", element)}
            found[data["label"]] = (data["value"], data.get("caption"))
    return found


def test_analysis_headline_shows_the_numbers_of_the_store(tmp_path, monkeypatch):
    """Worked out by hand: 7 commands, 3 failed (42.9 %); agents codex, claude and aider (one
    event has none); one retry loop (codex fails twice, then passes); scores 40, 50, 90, 22."""
    at = JAN_1
    store = build_store(tmp_path / "store", [
        event(at, id="e1", agent_id="codex", exit_code=1, predicted_productivity=40.0),
        event(at + 60, id="e2", agent_id="codex", exit_code=1, predicted_productivity=50.0),
        event(at + 120, id="e3", agent_id="codex"),
        event(at + 180, id="e4", agent_id="claude", predicted_productivity=90.0),
        event(at + 240, id="e5", agent_id=None, program="ls", predicted_productivity=22.0),
        event(at + 300, id="e6", agent_id="aider", exit_code=2),
        event(at + 360, id="e7", agent_id="aider", command_hash="b" * 64),
    ])
    outputs, _ = run_notebook_with_outputs("analysis", store, monkeypatch)
    assert shown_stats(outputs) == {
        "Commands": ("7", None),
        "Failure rate": ("42.9%", "3 failed"),
        "Agents": ("3", "distinct, named"),
        "Retry loops": ("1", None),
        "Mean predicted productivity": ("50.5", "per scored event"),
    }


def test_analysis_day_picker_left_alone_keeps_days_captured_after_it_was_drawn(base_store, monkeypatch):
    full = run_notebook("analysis", base_store, monkeypatch)
    first_day, last_day = full["span"]["first_day"], full["span"]["last_day"]
    # The notebook as loaded the day before the newest events were captured:
    loaded_earlier = {**full["span"], "last_day": last_day - dt.timedelta(days=1)}
    loaded = {"agent_names": full["agent_names"], "program_names": full["program_names"], "span": loaded_earlier}
    with analytics.connect(base_store) as con:
        untouched = run_notebook("analysis", base_store, monkeypatch, con=con, **loaded)
        assert untouched["recent_events"].height == full["recent_events"].height
    with analytics.connect(base_store) as con:
        widgets = {"agent_select": mo.ui.multiselect(options=[]), "program_select": mo.ui.multiselect(options=[]),
                   "day_range": mo.ui.date_range(value=(first_day, first_day))}
        chosen = run_notebook("analysis", base_store, monkeypatch, con=con, **loaded, **widgets)
        assert 0 < chosen["recent_events"].height < full["recent_events"].height
        assert {d.date() for d in chosen["recent_events"]["executed_at"]} == {first_day}



# --- every notebook: as a script and through `marimo export html` -----------------------------


def run_script(name: str, store: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(NOTEBOOKS / f"{name}.py")], env=marimo_env(store),
                          capture_output=True, text=True, timeout=180)


def stored_state(store: Path) -> tuple:
    """What a notebook could change: events and their scores, labels, model versions, the active one."""
    return (rows(store, "SELECT id, predicted_productivity, model_ref FROM command_events ORDER BY id"),
            rows(store, "SELECT * FROM labels ORDER BY id"),
            sorted(p.name for p in (store / "models").iterdir()),
            (store / "model-xgb" / "metadata.json").read_bytes())


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_headless_as_a_script_and_changes_nothing(name, store):
    before = stored_state(store)
    done = run_script(name, store)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert stored_state(store) == before  # no label saved, no model trained or promoted on load


def test_a_notebook_script_fails_on_a_store_its_cells_fail_on(tmp_path):
    """Exit status 0 of a script run means its cells ran: on a store one of them fails on, it is not 0."""
    damaged = event(time.time(), id="evt_bad", executed_at="yesterday")  # SQLite keeps a value of any type
    store = build_store(tmp_path / "store", [event(time.time(), id="evt_ok"), damaged])
    done = run_script("analysis", store)
    assert done.returncode != 0
    assert "Mismatch Type Error" in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_exports_to_html_without_a_failing_cell(name, store, tmp_path):
    out = tmp_path / f"{name}.html"
    done = subprocess.run(
        [sys.executable, "-m", "marimo", "export", "html", str(NOTEBOOKS / f"{name}.py"), "-o", str(out)],
        env=marimo_env(store), capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "failed" not in done.stderr.lower()
    assert out.stat().st_size > 10_000


# --- the CLI ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["report", "--marimo", "--path", "nowhere"], "no DevTrace store at nowhere"),
        (["report", "--marimo", "--out", "missing/report.html"], "folder"),
        (["report", "--marimo", "--out", "."], "it is a folder (name the file, e.g."),
        (["report", "--marimo", "--out", "r" * 300 + ".html"], "OSError: [Errno 36] File name too long"),
        (["notebook", "analysis", "--path", "nowhere"], "no DevTrace store at nowhere"),
    ],
)
def test_user_errors_end_in_one_line(args, message, base_store, tmp_path):
    done = devtrace_here(*args, cwd=tmp_path, env=devtrace_env(DEVTRACE_PATH=str(base_store)), text=True)
    assert done.returncode == 1
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "report.html").exists()


def test_marimo_report_on_a_store_the_notebook_fails_on_names_the_failing_cell(tmp_path):
    # A damaged row: SQLite keeps a value of any type.
    damaged = event(time.time(), id="evt_bad", executed_at="yesterday")
    store = build_store(tmp_path / "store", [event(time.time(), id="evt_ok"), damaged])
    done = devtrace_here("report", "--marimo", "--path", str(store), cwd=tmp_path, text=True)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "the analysis notebook failed on this store: MarimoExceptionRaisedError: Mismatch Type Error" in done.stderr


@pytest.mark.browser
def test_notebook_command_serves_the_notebook_on_the_store(base_store, tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "devtrace", "notebook", "labeling", "--path", str(base_store),
               "--headless", "--port", str(port)]
    with MarimoServer(command, devtrace_env(), tmp_path / "marimo.log", port, token=True) as server, Browser() as browser:
        assert len(server.url.partition("access_token=")[2]) >= 40  # 32 random bytes
        assert server.url.partition("access_token=")[2] not in Path(f"/proc/{server.pid}/cmdline").read_text()
        without = urllib.request.Request(f"http://127.0.0.1:{port}/api/kernel/instantiate", method="POST", data=b"{}")
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(without, timeout=10)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            assert answer.url.startswith(f"http://127.0.0.1:{port}/auth/login")  # sent to log in
        browser.open(server.url)
        store_shown = f"allElements().some(e => e.tagName === 'INPUT' && e.value === {json.dumps(str(base_store))})"
        browser.wait_for(f"{store_shown} && allText().includes('Save label')")
        title = browser.evaluate("document.title")
    assert title == "DevTrace labeling"


def test_unknown_notebook_is_refused(tmp_path):
    done = devtrace_here("notebook", "dashboard", cwd=tmp_path, text=True)
    assert done.returncode != 0 and "dashboard" in done.stderr and "Traceback" not in done.stderr


# --- a real browser -----------------------------------------------------------------------------

CHARTS_DRAWN_JS = """
allElements().filter(e => e.classList && e.classList.contains('vega-embed'))
    .filter(e => [...e.querySelectorAll('canvas, svg')].some(g => g.getBoundingClientRect().width > 50)).length
"""


@pytest.mark.browser
def test_analysis_in_headless_chromium(base_store, tmp_path):
    assert chromium_path(), "headless Chromium is needed: apt-get install chromium (see .ci/install-system)"
    with MarimoServer.run("analysis", base_store, tmp_path / "marimo.log") as server, Browser() as browser:
        browser.open(server.url)
        drawn = browser.wait_for(f"({CHARTS_DRAWN_JS}) >= 6 && ({CHARTS_DRAWN_JS})", timeout=90)
        text = browser.evaluate("allText()")
        shot = browser.screenshot(tmp_path / "analysis.png")
        toasts, exceptions = browser.toasts(), browser.exceptions
        server_log = server.log()
    assert drawn >= 6
    for title in ("DevTrace analysis", "Commands", "Failure rate", "Retry loops"):
        assert title in text
    assert not toasts and not exceptions, (toasts, exceptions)
    assert "Traceback" not in server_log and "error" not in server_log.lower(), server_log
    assert shot.stat().st_size > 50_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_labeling_defines_a_queue_and_explains_its_first_event(base_store, monkeypatch):
    defs = run_notebook("labeling", base_store, monkeypatch)
    queue = defs["queue"]
    assert queue.height == 1206 - 5  # every event but the five labeled ones
    assert queue["human_label"].null_count() == queue.height
    assert queue["priority"].is_sorted(descending=True) and queue["uncertainty"].null_count() == 0
    assert defs["current"]["id"] == queue["id"][0]
    assert defs["current"]["command"]  # the command the person is asked to grade, as they read it
    reasons = defs["reasons"]
    assert set(reasons["feature"]) == set(FEATURES) and set(reasons["event"]) == {queue["id"][0]}
    assert {"contribution", "reason"} <= chart_fields(defs["reasons_chart"])
    assert defs["reasons_chart"].data.height == len(FEATURES)
    # What followed it, from the outcomes view, and its outcome label as the suggested value.
    outcome = defs["outcome"]
    expected = analytics.sql(f"SELECT outcome_label FROM outcomes WHERE id = '{queue['id'][0]}'", path=base_store)
    assert outcome is not None and outcome["id"] == queue["id"][0]
    assert outcome["outcome_label"] == expected["outcome_label"][0]
    suggested = 50 if outcome["outcome_label"] is None else round(outcome["outcome_label"])
    assert defs["value_input"].value == suggested


def test_labeling_undo_of_a_label_given_again_since_says_so(store, monkeypatch):
    from devtrace.ml import registry
    from devtrace.ml.labeling_queue import labeling_queue
    from devtrace.store.labels import label

    events = analytics.events(path=store)
    model = registry.load(registry.active_dir(store))
    queue = labeling_queue(events, model.booster)
    event_id = queue["id"][0]
    mine = label(event_id, 40, by="me", path=store)
    label(event_id, 70, by="someone else", path=store)
    history = [{"event_id": event_id, "label_id": mine, "value": 40}]
    changes = []
    outcomes = analytics.sql("SELECT * EXCLUDE (ended_at, started_at) FROM outcomes", path=store)
    sitting = {"events": events, "model": model, "queue": queue, "store": str(store), "outcomes": outcomes,
               "get_history": lambda: history, "set_history": changes.append}
    form = {"value_input": mo.ui.number(value=50), "note_input": mo.ui.text(), "save_button": mo.ui.run_button(),
            "skip_button": mo.ui.run_button(), "undo_button": SimpleNamespace(value=True)}  # Undo pressed
    outputs, _ = run_notebook_with_outputs("labeling", store, monkeypatch, **sitting, **form)
    shown = [o.text for o in outputs if o is not None and hasattr(o, "text")]
    assert any("Cannot undo" in text and "superseded" in text for text in shown), shown
    assert changes == []  # the step stays in this sitting: its label was not taken back
    assert [r["value"] for r in rows(store, f"SELECT value FROM labels WHERE event_id = '{event_id}' ORDER BY id")] == [40.0, 70.0]


def test_retraining_trains_nothing_on_load(base_store, monkeypatch):
    defs = run_notebook("retraining", base_store, monkeypatch)
    assert "candidate" not in defs and "comparison" not in defs
    assert [v["version"] for v in defs["versions"]] == ["v1"] and defs["active_version"] == "v1"
    assert dict(defs["label_counts"].iter_rows()) == {"human": 5, "outcome": 1199, "prediction": 2}
    assert defs["usable_labels"] == 5 + 1199 + 2 and defs["enough_labels"]  # the blend mix


def test_retraining_compares_with_the_active_model_only_on_labels_given_after_it(store, monkeypatch):
    from devtrace.store.labels import label

    newer = analytics.sql("SELECT id FROM events WHERE human_label IS NULL ORDER BY id LIMIT 60", path=store)["id"]
    for event_id in newer:
        label(event_id, 50, by="tester", path=store)
    form = {"mix_radio": mo.ui.radio(options=["human", "blend"], value="human"),
            "pseudo_weight": mo.ui.slider(0.05, 1.0, value=0.3), "n_estimators": mo.ui.number(value=30),
            "max_depth": mo.ui.slider(1, 10, value=3), "learning_rate": mo.ui.number(value=0.3),
            "seed": mo.ui.number(value=42), "train_button": SimpleNamespace(value=True)}  # Train pressed
    outputs, defs = run_notebook_with_outputs("retraining", store, monkeypatch, **form)
    comparison, said = defs["comparison"], defs["compared_rows"]
    # Labels given after the moment v1 records as its creation: the 60 given a moment ago, and
    # the fixture's 5, given after it trained v1.
    v1_created = dt.datetime.fromisoformat(defs["versions"][0]["created_at"]).replace(tzinfo=None)
    labeled = defs["training_frame"].filter(pl.col("productivity_label").is_not_null())
    unseen = set(labeled.filter(pl.col("human_label_at") >= v1_created)["id"])
    held_out = training.split(labeled.height, 42, training.split_groups(labeled["session_id"].to_numpy()))[1]
    compared = sum(labeled["id"][int(i)] in unseen for i in held_out)
    assert labeled.height == 5 + 60 and set(newer) <= unseen and compared > 0
    assert comparison["model"].to_list() == ["candidate v2", "active v1", "mean predictor (baseline)"]
    assert comparison["validation_rows"][0] == compared
    assert said.startswith(f"the {compared} of the {len(held_out)} validation rows") and "after active v1" in said
    # An active model trained --from-store trained on every scored event, so what it has not seen
    # is a human label, not a row: the notebook says so.
    intro = outputs[0].text
    assert "rows whose human label neither model saw" in intro and "neither model trained on" not in intro


def test_retraining_loads_without_xgboost(base_store):
    """Nothing heavy on load: running the notebook imports no XGBoost and trains nothing."""
    check = (
        "import sys; sys.path.insert(0, 'notebooks'); from retraining import app; app.run(); "
        "print(sorted(m for m in ('xgboost', 'shap') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO, env=marimo_env(base_store),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert sorted(p.name for p in (base_store / "models").iterdir()) == ["v1"]


# --- the loop in a real browser: label, retrain, promote, auto-score -----------------------------


@pytest.mark.browser
def test_a_label_saved_in_the_browser_is_used_by_the_next_training_run(store, tmp_path):
    from devtrace.ml.candidate_review import load_training

    with MarimoServer.run("labeling", store, tmp_path / "marimo.log") as server, Browser() as browser:
        browser.open(server.url)
        first = browser.wait_for(r"allText().includes('0 / 1201') && allText().match(/evt_[0-9a-f]{12}/)?.[0]", timeout=90)
        # Each step waits for the table of this sitting, the last cell to re-run, so the next
        # click lands on the buttons of the re-drawn form.
        browser.submit("Save label", {"Your name": "tester", "Productivity label": "83",
                                      "Note": "fixed it on the second try"})
        browser.wait_for("allText().includes('1 / 1201') && allText().includes('1 row,')")
        saved = rows(store, "SELECT event_id, value, source, labeled_by, note FROM labels ORDER BY id DESC LIMIT 1")[0]
        browser.click("Skip")
        browser.wait_for("allText().includes('Skipped1') && allText().includes('2 rows,')")
        browser.click("Undo last")  # takes back the skip
        browser.wait_for("allText().includes('Skipped0') && allText().includes('1 row,')")
        browser.click("Undo last")  # takes back the label
        browser.wait_for("allText().includes('0 / 1201') && !allText().includes('This sitting')")
        retracted = rows(store, f"SELECT count(*) AS n FROM labels WHERE event_id = '{first}'")[0]["n"]
        browser.submit("Save label", {"Productivity label": "83"})
        browser.wait_for("allText().includes('1 / 1201') && allText().includes('1 row,')")
        toasts, exceptions, log = browser.toasts(), browser.exceptions, server.log()
    assert tuple(saved) == (first, 83.0, "human", "tester", "fixed it on the second try")
    assert retracted == 0
    assert not toasts and not exceptions and "Traceback" not in log, (toasts, exceptions, log)

    frame, data = load_training(store, "blend", pseudo_weight=0.5)
    assert data.label_sources["human"] == 6
    assert frame.filter(frame["id"] == first)["productivity_label"].to_list() == [83.0]
    metadata = train_and_register(data, source="test", path=store, promote=False, n_estimators=20)
    assert metadata["label_sources"]["human"] == 6


@pytest.mark.browser
def test_a_version_promoted_in_the_browser_scores_the_next_captured_event(store, tmp_path):
    with MarimoServer.run("retraining", store, tmp_path / "marimo.log") as server, Browser() as browser:
        browser.open(server.url)
        browser.click("Train candidate", timeout=90)
        browser.wait_for("allText().includes('Candidate v2 beside the baselines and the active model')", timeout=120)
        # The comparison's table and chart draw after its heading: wait for what is checked below.
        browser.wait_for(
            "['candidate v2', 'active v1', 'mean predictor'].every(t => allText().includes(t))", timeout=60
        )
        comparison = browser.evaluate("allText()")
        browser.click("Promote v2")
        browser.wait_for("allText().includes('v2 is now the active model')")
        shot = browser.screenshot(tmp_path / "retraining.png")
        toasts, exceptions, log = browser.toasts(), browser.exceptions, server.log()
    assert "candidate v2" in comparison and "active v1" in comparison and "mean predictor" in comparison
    assert not toasts and not exceptions and "Traceback" not in log, (toasts, exceptions, log)
    assert shot.stat().st_size > 50_000

    repo = init_repo(tmp_path / "repo")
    env = devtrace_env(DEVTRACE_PATH=str(store))
    done = devtrace("run", "--keep-noop", "--agent", "tester", "--", "git", "status", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    shown = devtrace_here("events", "--limit", "1", "--json", cwd=repo, env=env, text=True)
    assert shown.returncode == 0, shown.stderr
    newest = json.loads(shown.stdout)[0]
    assert newest["agent_id"] == "tester" and newest["model_ref"] == "v2"
    assert 0 <= newest["predicted_productivity"] <= 100


def _agreeing_labels(store: Path, count: int) -> None:
    """`count` human labels from an earlier reviewer who agreed with the active model (its own
    score, rounded), given after it was created: rows the comparison can judge both models on."""
    from devtrace.store.labels import label

    scored = analytics.sql(
        "SELECT id, predicted_productivity FROM events WHERE human_label IS NULL AND predicted_productivity IS NOT NULL"
        f" ORDER BY id LIMIT {count}", path=store,
    )
    for event_id, score in scored.iter_rows():
        label(event_id, round(score), by="reviewer", path=store)


@pytest.mark.browser
def test_a_persons_path_label_three_undo_one_train_and_a_worse_candidate_is_refused(store, tmp_path):
    """In Chromium: label three events in the labeling app, undo the last, then train a
    candidate in the retraining app, read its comparison with the active model, and find that a
    worse candidate cannot be promoted; the active model stays v1."""
    from devtrace.ml import registry

    _agreeing_labels(store, 400)
    labeled_by_me = "SELECT event_id, value FROM labels WHERE labeled_by = 'tester' ORDER BY id"
    with MarimoServer.run("labeling", store, tmp_path / "labeling.log") as server, Browser() as browser:
        browser.open(server.url)
        queue = int(browser.wait_for(r"allText().match(/0 \/ (\d+)/)?.[1]", timeout=90))
        browser.fill("Your name", "tester")
        for n, value in enumerate(("20", "55", "90"), start=1):
            browser.submit("Save label", {"Productivity label": value})
            browser.wait_for(f"allText().includes('{n} / {queue}') && allText().includes('{n} row')")
        saved = rows(store, labeled_by_me)
        browser.click("Undo last")
        browser.wait_for(f"allText().includes('2 / {queue}') && allText().includes('2 rows,')")
        after_undo = rows(store, labeled_by_me)
        toasts, exceptions, log = browser.toasts(), browser.exceptions, server.log()
    assert [r["value"] for r in saved] == [20.0, 55.0, 90.0]
    assert len({r["event_id"] for r in saved}) == 3  # three different events, one label each
    assert [tuple(r) for r in after_undo] == [tuple(r) for r in saved[:2]]  # the undo took back the third
    undone = saved[2]["event_id"]
    assert rows(store, f"SELECT count(*) AS n FROM labels WHERE event_id = '{undone}'")[0]["n"] == 0
    assert not toasts and not exceptions and "Traceback" not in log, (toasts, exceptions, log)

    with MarimoServer.run("retraining", store, tmp_path / "retraining.log") as server, Browser() as browser:
        browser.open(server.url)
        browser.wait_for("allText().includes('Train candidate')", timeout=90)
        browser.submit("Train candidate", {"Trees (at most)": "1"})  # one shallow tree: a candidate worse than v1
        browser.wait_for("allText().includes('Candidate v2 beside the baselines and the active model')", timeout=120)
        browser.wait_for("allText().includes('Not promotable here.')", timeout=60)
        shown = browser.evaluate("allText()")
        buttons = browser.evaluate("allElements().filter(e => e.tagName === 'BUTTON').map(e => e.innerText.trim())")
        toasts, exceptions, log = browser.toasts(), browser.exceptions, server.log()
    compared = re.search(r"Compared with the active model on the (\d+) of the (\d+) validation rows", shown)
    assert compared and int(compared[1]) >= 30, shown
    assert "candidate v2" in shown and "active v1" in shown and "mean predictor (baseline)" in shown
    refusal = re.search(r"candidate v2 is worse than active v1 on the same (\d+) rows \(MAE ([\d.]+) vs ([\d.]+)\)", shown)
    assert refusal and refusal[1] == compared[1] and float(refusal[2]) > float(refusal[3]), shown
    assert "Promote v2" not in buttons and "v2 is now the active model" not in shown
    assert not toasts and not exceptions and "Traceback" not in log, (toasts, exceptions, log)
    assert registry.active_version(store) == "v1"
    candidate = next(v for v in registry.list_versions(store) if v["version"] == "v2")
    assert candidate["label_sources"]["human"] == 5 + 400 + 2  # the fixture's, the reviewer's, mine after the undo

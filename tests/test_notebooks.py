"""The marimo notebooks against a fixture store with a trained model: run in-process with
`app.run()`, as scripts, through `marimo export html`, via the CLI, and in headless Chromium."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import altair as alt
import marimo as mo
import pytest

from tests.browser import Browser, chromium_path
from tests.notebook_support import (
    NOTEBOOKS, REPO, MarimoServer, capture_real_commands, init_repo, insert_synthetic_sessions, marimo_env,
    run_notebook,
)
from tests.support import devtrace, devtrace_env, rows

NAMES = ["analysis"]


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("notebooks")
    store = root / "store"
    capture_real_commands(init_repo(root / "repo"), store)
    insert_synthetic_sessions(store)
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
    assert set(defs["per_day"]["agent_id"]) >= {"human", "codex"}
    expected = {
        "activity_chart": ("per_day", {"day", "commands", "agent_id"}),
        "failure_chart": ("per_day", {"day", "failure_rate", "agent_id"}),
        "churn_chart": ("per_day", {"day", "lines"}),
        "duration_chart": ("duration_bins", {"log10_ms", "commands", "agent_id"}),
        "failing_chart": ("per_command", {"command", "failures", "failure_rate"}),
        "retry_chart": ("loops", {"started_at", "retries", "resolved"}),
    }
    for name, (frame, fields) in expected.items():
        chart = defs[name]
        assert fields <= chart_fields(chart), name
        assert chart.data.height > 0 and set(chart.data.columns) <= set(defs[frame].columns), name
        assert fields - {"lines", "change"} <= set(chart.data.columns), name
    assert {"lines_added", "lines_deleted"} <= set(defs["churn_chart"].data.columns)


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



# --- every notebook: as a script and through `marimo export html` -----------------------------


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_headless_as_a_script(name, store):
    done = subprocess.run(
        [sys.executable, str(NOTEBOOKS / f"{name}.py")], env=marimo_env(store), capture_output=True, text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


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


def test_report_writes_the_analysis_with_its_charts(base_store, tmp_path):
    done = devtrace("report", "--out", "report.html", "--path", str(base_store), cwd=tmp_path, text=True)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "report.html").read_text()
    for title in ("Daily activity", "Failure rate per agent", "Duration distribution", "Churn over time",
                  "Most-failing commands", "Retry loops"):
        assert title in html, title
    assert "vega-lite" in html and "def _(" not in html  # charts in, code out


def test_report_uses_devtrace_path_by_default(base_store, tmp_path):
    done = devtrace("report", cwd=tmp_path, env=devtrace_env(DEVTRACE_PATH=str(base_store)), text=True)
    assert done.returncode == 0, done.stderr
    assert "Daily activity" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["report", "--path", "nowhere"], "no DevTrace store at nowhere"),
        (["report", "--out", "missing/report.html"], "folder"),
        (["notebook", "analysis", "--path", "nowhere"], "no DevTrace store at nowhere"),
    ],
)
def test_user_errors_end_in_one_line(args, message, base_store, tmp_path):
    done = devtrace(*args, cwd=tmp_path, env=devtrace_env(DEVTRACE_PATH=str(base_store)), text=True)
    assert done.returncode == 1
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "report.html").exists()


def test_unknown_notebook_is_refused(tmp_path):
    done = devtrace("notebook", "dashboard", cwd=tmp_path, text=True)
    assert done.returncode != 0 and "dashboard" in done.stderr and "Traceback" not in done.stderr


# --- a real browser -----------------------------------------------------------------------------

CHARTS_DRAWN_JS = """
allElements().filter(e => e.classList && e.classList.contains('vega-embed'))
    .filter(e => [...e.querySelectorAll('canvas, svg')].some(g => g.getBoundingClientRect().width > 50)).length
"""


def test_analysis_in_headless_chromium(base_store, tmp_path):
    assert chromium_path(), "headless Chromium is needed: apt-get install chromium (see .ci/install-browser)"
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

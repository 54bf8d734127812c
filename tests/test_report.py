"""`devtrace report`: one HTML file that renders offline, opened in headless Chromium started
in a network namespace of its own (no network at all), with every request the page makes logged."""

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from devtrace import analytics
from devtrace.analytics.report import Filters, build_report
from tests.analytics_support import DAY, JAN_1, build_store, event
from tests.browser import Browser, chromium_path
from tests.notebook_support import insert_synthetic_sessions, train_active_model
from tests.support import devtrace, devtrace_env, devtrace_here

ODD_AGENT = "</script><script>window.injected = 1</script>"
"""An agent name that runs a script wherever it is not escaped."""

CHART_TITLES = {
    "Daily activity", "Failure rate per agent", "Churn over time", "Duration distribution",
    "Predicted productivity per model version", "Most-failing commands",
    "Retry loops (a command re-run soon after it failed)",
}

# Once every chart has been drawn or has failed: how many there are, which were drawn (an SVG
# wider than 100 px holding at least one data mark) with their titles, and the failures.
CHARTS_JS = """(() => {
    const figures = [...document.querySelectorAll('figure.chart')];
    const drawn = figures.filter(f => {
        const svg = f.querySelector('svg.marks');
        return svg && svg.getBoundingClientRect().width > 100 && svg.querySelector('g.role-mark > path');
    });
    const failed = figures.filter(f => f.classList.contains('failed')).map(f => f.textContent);
    if (!figures.length || drawn.length + failed.length < figures.length) return null;
    const titles = drawn.map(f => f.querySelector('g.role-title text').textContent);
    return {figures: figures.length, drawn: drawn.length, titles, failed};
})()"""


@pytest.fixture(scope="module")
def scored_store(tmp_path_factory) -> Path:
    """1,200 synthetic events of several agents, scored by a real model."""
    store = tmp_path_factory.mktemp("report") / "store"
    assert train_active_model(store, insert_synthetic_sessions(store)) == "v1"
    return store


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    """Nine events over four days; one agent's name is markup that must stay text."""
    odd = ODD_AGENT
    at = [JAN_1 + d * DAY + 3600 for d in range(4)]
    events = [
        event(at[0], agent_id=odd), event(at[0], agent_id="codex", exit_code=1),
        event(at[1], agent_id=odd, exit_code=1), event(at[1] + 60, agent_id=odd, program="git"),
        event(at[1], agent_id=None), event(at[1], agent_id="codex"),
        event(at[2], agent_id=odd), event(at[2], agent_id=None, program="ruff", exit_code=1),
        event(at[3], agent_id=odd, exit_code=1),
    ]
    return build_store(tmp_path_factory.mktemp("small") / "store", events)


def open_offline(page: Path) -> dict:
    """Open the file in Chromium without a network; what it shows once every chart is done."""
    assert chromium_path(), "headless Chromium is needed: apt-get install chromium (see .ci/install-browser)"
    with Browser(offline=True) as browser:
        browser.open(page.as_uri())
        charts = browser.wait_for(CHARTS_JS, timeout=60)
        return {
            "charts": charts,
            "text": browser.evaluate("document.body.innerText"),
            "filters": browser.evaluate("[...document.querySelectorAll('.filters dd')].map(d => d.textContent)"),
            "stats": browser.evaluate(
                "Object.fromEntries([...document.querySelectorAll('.stat')].map(s =>"
                " [s.querySelector('.label').textContent, s.querySelector('.value').textContent]))"
            ),
            "legends": browser.evaluate("[...document.querySelectorAll('g.role-legend-label text')].map(t => t.textContent)"),
            "injected": browser.evaluate("typeof window.injected"),
            "requests": browser.requests,
            "exceptions": browser.exceptions,
        }


@pytest.mark.browser
def test_the_report_renders_every_chart_offline_and_requests_nothing(scored_store, tmp_path):
    done = devtrace_here("report", "--out", "report.html", "--path", str(scored_store), cwd=tmp_path, text=True)
    assert done.returncode == 0, done.stderr
    page = tmp_path / "report.html"
    assert done.stdout == f"Wrote the analysis report to report.html ({page.stat().st_size / 1e6:.1f} MB, one file that opens offline)\n"
    shown = open_offline(page)
    charts = shown["charts"]
    assert charts["figures"] == charts["drawn"] == 7 and charts["failed"] == [], charts
    assert set(charts["titles"]) == CHART_TITLES
    assert shown["requests"] == [page.as_uri()] and shown["exceptions"] == []
    # The headline, computed here from the store's table rather than the views.
    conn = sqlite3.connect(scored_store / "devtrace.db")
    commands, failed, agents = conn.execute(
        "SELECT count(*), sum(exit_code != 0), count(DISTINCT agent_id) FROM command_events"
    ).fetchone()
    conn.close()
    assert shown["stats"]["Commands"] == f"{commands:,}" and shown["stats"]["Agents"] == str(agents)
    assert shown["stats"]["Failure rate"] == f"{failed / commands:.1%}"
    assert shown["filters"][0] == "all" and shown["filters"][2] == "all"
    assert "Daily activity" in shown["text"] and f"the first 200 of {commands:,} rows" in shown["text"]


@pytest.mark.browser
def test_the_marimo_export_opens_blank_offline_and_the_request_log_shows_why(scored_store, tmp_path):
    """The control for the test above: the request log does catch a page reaching out."""
    done = devtrace_here("report", "--marimo", "--out", "marimo.html", "--path", str(scored_store), cwd=tmp_path, text=True)
    assert done.returncode == 0, done.stderr
    with Browser(offline=True) as browser:
        browser.open((tmp_path / "marimo.html").as_uri())
        browser.wait_for("document.readyState === 'complete'")
        text = browser.evaluate("document.body.innerText.trim()")
        requests = browser.requests
    assert any(url.startswith("https://cdn.jsdelivr.net/") for url in requests), requests
    assert "Daily activity" not in text


def test_a_filtered_report_prints_its_filters_and_counts_only_their_events(small_store, tmp_path):
    done = devtrace(
        "report", "--path", str(small_store), "--agent", ODD_AGENT, "--agent", "", "--program", "pytest",
        "--since", "2024-01-02", "--until", "2024-01-03", cwd=tmp_path, text=True,
    )
    assert done.returncode == 0, done.stderr
    shown = open_offline(tmp_path / "report.html")
    assert shown["filters"] == [f"{ODD_AGENT}, (no agent)", "2024-01-02 to 2024-01-03", "pytest"]
    # Of the nine events: the odd agent's pytest runs of 2 and 3 January (one failed) and the
    # agent-less pytest run of 2 January. Agents count named ones only.
    assert shown["stats"] == {"Commands": "3", "Failure rate": "33.3%", "Agents": "1", "Retry loops": "0",
                              "Mean predicted productivity": "—"}
    assert shown["injected"] == "undefined" and shown["requests"] == [(tmp_path / "report.html").as_uri()]
    # No scores and no retry loops: those two charts are notes, the five others are drawn.
    assert shown["charts"]["figures"] == shown["charts"]["drawn"] == 5
    assert "(no agent)" in shown["legends"] and "null" not in shown["legends"]
    assert "No scored events here yet" in shown["text"] and "No retry loops" in shown["text"]


def test_the_builder_takes_an_analytics_connection(small_store):
    with analytics.connect(small_store) as con:
        page = build_report(con, "a test", Filters(agents=["codex"]), made_at=dt.datetime(2024, 2, 1, 12, 0))
    assert "a test · made 2024-02-01 12:00 UTC" in page
    assert "<dt>Agents</dt><dd>codex</dd>" in page and "2 rows" in page
    assert "window.injected" not in page  # the odd agent is not in this report


@pytest.mark.parametrize(
    "args, message",
    [
        (["--agent", "nobody"], "no agent 'nobody' in store "),
        (["--program", "make"], "no program 'make' in store "),
        (["--since", "2024-01-04", "--until", "2024-01-02"], "no day is both from 2024-01-04 and until 2024-01-02"),
        (["--agent", "codex", "--program", "ruff"], "no events match these filters (Agents: codex; Days (UTC): all"),
        (["--marimo", "--agent", "codex"], "--marimo exports the notebook on every event"),
        (["--out", "."], "it is a folder (name the file, e.g."),
        (["--out", "missing/report.html"], "folder"),
        (["--out", "r" * 300 + ".html"], "File name too long"),
    ],
)
def test_user_errors_end_in_one_line_and_write_nothing(args, message, small_store, tmp_path):
    done = devtrace_here("report", "--path", str(small_store), *args, cwd=tmp_path, text=True)
    assert done.returncode == 1
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_empty_damaged_or_missing_store_is_said_in_one_line(tmp_path):
    build_store(tmp_path / "empty", [])
    # SQLite keeps a value of any type: a timestamp that is text cannot be read as one.
    build_store(tmp_path / "damaged", [event(JAN_1), event(JAN_1, executed_at="yesterday")])
    for args, message in [(["--path", "empty"], "has no events yet: capture some with devtrace run"),
                          (["--path", "damaged"], 'Invalid type in column "executed_at"'),
                          (["--path", "nowhere"], "no DevTrace store at nowhere")]:
        done = devtrace_here("report", *args, cwd=tmp_path, text=True)
        assert done.returncode == 1 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "report.html").exists()


def test_the_report_reads_devtrace_path_by_default(small_store, tmp_path):
    done = devtrace_here("report", cwd=tmp_path, env=devtrace_env(DEVTRACE_PATH=str(small_store)), text=True)
    assert done.returncode == 0, done.stderr
    assert f"store {small_store}" in (tmp_path / "report.html").read_text()

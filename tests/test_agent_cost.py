"""What agent sessions cost and what came of their commands: agent_sessions' outcome columns,
the agent_cost view and `devtrace top --by agent`, on a store filled by `devtrace import` of the
real agents' transcripts (tests/fixtures/agents) and live `devtrace run` captures in the same
Claude Code session."""

import json
import time
from pathlib import Path

import pytest

from devtrace.analytics import connect, query
from tests.support import devtrace, devtrace_env, devtrace_here

AGENTS = Path(__file__).parent / "fixtures" / "agents"
CLAUDE_SESSION = "3debe67a-53e5-4421-80df-80ed89cd098c"
CLAUDE_FAILURES = 12  # of its 22 imported calls (tests/test_import_agents.py's CLAUDE_EXITS)
CLAUDE_COST = (264 * 5.0 + 110 * 25.0) / 1e6  # its tokens at the config's price
CODEX_COST = (192 * 1.25 + 80 * 10.0) / 1e6  # gpt-5.1-codex, from the shipped price table
DAY = 86400


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """The three transcripts imported (the Claude model priced through config.toml), then, in
    Claude's session: a check that fails and passes once its file exists (a loop it ended,
    one green run), and one that fails twice (a stuck loop)."""
    root = tmp_path_factory.mktemp("cost")
    store = root / "store"
    store.mkdir()
    (store / "config.toml").write_text('[prices."claude-opus-4-8"]\ninput = 5.0\noutput = 25.0\n'
                                       'cache_read = 0.5\ncache_write = 6.25\n')
    for agent in ("claude-code", "codex", "gemini"):
        done = devtrace("import", agent, str(AGENTS / agent / "transcript.jsonl"), "--path", str(store), cwd=root)
        assert done.returncode == 0, done.stderr
    work = root / "work"  # not a repository: the session is where a command goes green
    work.mkdir()
    env = devtrace_env(DEVTRACE_PATH=str(store), DEVTRACE_SESSION=CLAUDE_SESSION)
    for command, then in ((["test", "-f", "built"], lambda: (work / "built").touch()),
                          (["test", "-f", "built"], None),
                          (["test", "-f", "never"], None), (["test", "-f", "never"], None)):
        devtrace("run", "--agent", "claude-code", "--keep-noop", "--quiet", "--", *command, cwd=work, env=env)
        if then:
            time.sleep(1.1)
            then()
    return store


def sessions(store: Path, now: float | None = None) -> dict:
    with connect(str(store)) as con:
        if now is not None:
            con.execute(f"SET VARIABLE outcomes_now = {now}")
        return {r["agent"]: r for r in query(con, "SELECT * FROM agent_sessions").to_dicts()}


def test_agent_sessions_carry_the_outcomes_of_their_commands(store):
    later = time.time() + 2 * DAY  # every outcome window has passed
    claude, codex = (sessions(store, later)[a] for a in ("claude-code", "codex"))
    assert claude["session_id"] == CLAUDE_SESSION and claude["shell_commands"] == 22 + 4
    assert claude["failures"] == CLAUDE_FAILURES + 3
    assert (claude["went_green"], claude["green_runs"]) == (1, 1)  # test -f built: failed, then passed
    assert claude["never_green"] == CLAUDE_FAILURES + 2  # the imported failures and test -f never, twice
    assert 1.0 <= claude["median_time_to_green_s"] < 60
    assert (claude["loops_ended"], claude["stuck_loops"]) == (1, 1)
    assert (codex["went_green"], codex["green_runs"], codex["loops_ended"], codex["stuck_loops"]) == (0, 0, 0, 0)
    assert codex["median_time_to_green_s"] is None
    # While the window is open, a failure not yet green is not yet "never green".
    assert sessions(store)["claude-code"]["never_green"] == 0


def test_agent_cost_per_session_green_run_and_loop_ended(store):
    with connect(str(store)) as con:
        cost = {r["agent"]: r for r in query(con, "SELECT * FROM agent_cost").to_dicts()}
    claude, codex = cost["claude-code"], cost["codex"]
    assert (claude["sessions"], claude["priced_sessions"], claude["green_runs"], claude["loops_ended"]) == (1, 1, 1, 1)
    assert abs(claude["estimated_cost_usd"] - CLAUDE_COST) < 1e-12
    for column in ("cost_per_session_usd", "cost_per_green_run_usd", "cost_per_loop_ended_usd"):
        assert abs(claude[column] - CLAUDE_COST) < 1e-12, column  # one session, one green run, one loop
    assert abs(codex["cost_per_session_usd"] - CODEX_COST) < 1e-12
    assert codex["cost_per_green_run_usd"] is None and codex["cost_per_loop_ended_usd"] is None  # nothing went green
    with connect(str(store)) as con:
        con.execute("SET VARIABLE top_since = TIMESTAMP '2100-01-01'")
        assert query(con, "SELECT * FROM agent_cost").height == 0  # the period holds no session


def test_top_by_agent_shows_each_agent_s_cost(store):
    env = devtrace_env(COLUMNS="200")
    done = devtrace_here("top", "--by", "agent", "--since", "all", "--json", "--path", str(store), cwd=store.parent, env=env, text=True)
    assert done.returncode == 0, done.stderr
    rows = {r["key"]: r for r in json.loads(done.stdout)}
    assert abs(rows["claude-code"]["cost_per_green_run_usd"] - CLAUDE_COST) < 1e-12
    assert rows["claude-code"]["sessions"] == 1 and rows["codex"]["cost_per_green_run_usd"] is None
    shown = devtrace_here("top", "--by", "agent", "--since", "all", "--path", str(store), cwd=store.parent, env=env, text=True)
    assert shown.returncode == 0, shown.stderr
    header = next(line for line in shown.stdout.splitlines() if line.startswith("share"))
    assert header.split()[-8:] == ["sessions", "cost", "/session", "/green", "run", "/loop", "ended", "agent"]
    claude = next(line for line in shown.stdout.splitlines() if line.endswith(" claude-code"))
    assert claude.split()[-5:-1] == ["$0.0041", "$0.0041", "$0.0041", "$0.0041"]
    by_command = devtrace_here("top", "--since", "all", "--json", "--path", str(store), cwd=store.parent, env=env, text=True)
    assert "cost_per_session_usd" not in by_command.stdout  # costs belong to agents, not commands


def test_repo_outcomes_puts_a_person_and_an_agent_on_the_same_repository_side_by_side(tmp_path):
    """Claude's transcript imported; then, in the repository most of its calls ran in, Claude
    fails a check and passes it 20 s later, and a person fails another and passes it 30 s later."""
    from devtrace.store import open_store
    from devtrace.store.events import insert_event
    from tests.analytics_support import event

    store = tmp_path / "store"
    store.mkdir()
    (store / "config.toml").write_text('[prices."claude-opus-4-8"]\ninput = 5.0\noutput = 25.0\n')
    done = devtrace("import", "claude-code", str(AGENTS / "claude-code" / "transcript.jsonl"), "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with connect(str(store)) as con:
        repo, imported, at = query(con, "SELECT repo_id, count(*), max(epoch(ended_at)) FROM events"
                                        " GROUP BY repo_id ORDER BY count(*) DESC LIMIT 1").row(0)
    agent = {"agent_id": "claude-code", "author_kind": "agent", "session_id": CLAUDE_SESSION, "repo_id": repo,
             "command_hash": "c" * 64}
    human = {"agent_id": None, "author_kind": "human", "session_id": "shell-1", "repo_id": repo, "command_hash": "d" * 64}
    conn = open_store(store)
    for row in (event(at + 10, exit_code=1, **agent), event(at + 30, **agent),
                event(at + 40, exit_code=1, **human), event(at + 70, **human)):
        insert_event(conn, row)
    conn.close()
    with connect(str(store)) as con:
        got = {r["kind"]: r for r in query(con, "SELECT * FROM repo_outcomes WHERE repo_id = ?", [repo]).to_dicts()}
    assert set(got) == {"agent", "human"}
    claude, person = got["agent"], got["human"]
    assert (claude["runs"], claude["green_runs"], claude["went_green"]) == (imported + 2, 1, 1)
    assert (person["runs"], person["failures"], person["green_runs"], person["went_green"]) == (2, 1, 1, 1)
    assert abs(claude["median_time_to_green_s"] - 20.0) < 1e-6 and abs(person["median_time_to_green_s"] - 30.0) < 1e-6
    share = (imported + 2) / (22 + 2)  # the session's commands in this repository, of all its commands
    assert (claude["sessions"], claude["priced_sessions"]) == (1, 1)
    assert abs(claude["estimated_cost_usd"] - CLAUDE_COST * share) < 1e-12
    assert abs(claude["cost_per_green_run_usd"] - CLAUDE_COST * share) < 1e-12  # one green run
    assert person["estimated_cost_usd"] is None and person["sessions"] is None  # a person's time has no token cost


def test_the_report_and_the_analysis_notebook_show_what_agent_sessions_cost(store, monkeypatch):
    import re

    from devtrace.analytics.report import build_report
    from tests.notebook_support import run_notebook

    with connect(str(store)) as con:
        page = build_report(con, "a test")
    table = re.search(r"<h3>What agent sessions cost</h3>(.*?)</section>", page, re.S)[1]
    claude = re.search(r"<tr><td>claude-code</td>(.*?)</tr>", table)[1]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", claude)
    assert cells[:3] == ["1", "1", f"{CLAUDE_COST:.4g}"]  # sessions, priced, cost
    assert "<h3>People and agents per repository</h3>" in page
    defs = run_notebook("analysis", store, monkeypatch)
    cost = {r["agent"]: r for r in defs["agent_cost"].to_dicts()}
    assert abs(cost["claude-code"]["cost_per_green_run_usd"] - CLAUDE_COST) < 1e-12
    assert set(defs["repo_outcomes"]["kind"]) == {"agent"}  # no person ran anything in a repository here

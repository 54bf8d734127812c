"""Agent sessions' usage syncs like events (machine-scoped, exactly once, no text) and is
updated as a session goes on, so `devtrace sql --central` answers cost per agent per repo."""

import csv
import io
import time

from devtrace.central.lake import admin
from devtrace.store import create_store, insert_event
from tests.central_support import call, central_count, make_token, run_cli
from tests.test_central_sync import login, sync

USAGE = ("agent", "session_id", "model", "started_at", "ended_at", "turns", "tool_calls", "requests", "input_tokens",
         "output_tokens", "cache_read_tokens", "cache_write_tokens", "imported_at")
OPUS = (15.0, 75.0, 1.5, 18.75)  # sql/prices.toml: claude-opus-4, US dollars per million tokens


def cost(input_tokens: int, output_tokens: int, cache_read: int, cache_write: int) -> float:
    return sum(n * p for n, p in zip((input_tokens, output_tokens, cache_read, cache_write), OPUS, strict=True)) / 1e6


def session(store, agent: str, session_id: str, repo: str, tokens: tuple[int, int, int, int], *, commands: int = 2):
    """A session as an import leaves it: its usage row (replaced on each import) and its commands."""
    now = time.time()
    conn = create_store(store)
    try:
        with conn:
            conn.execute(f"INSERT OR REPLACE INTO agent_session_usage ({', '.join(USAGE)}) VALUES "
                         f"({', '.join('?' * len(USAGE))})",
                         (agent, session_id, "claude-opus-4-20250514", now - 600, now - 60, 3, 5, 4, *tokens, now))
        for i in range(commands):
            insert_event(conn, {"id": f"evt_{session_id}_{i}", "agent_id": agent, "executed_at": now - 500 + i,
                                "command_hash": "c" * 64, "duration_ms": 100, "exit_code": 0, "timed_out": 0,
                                "started_at": now - 500 + i, "ended_at": now - 499 + i, "session_id": session_id,
                                "repo_id": repo, "program": "pytest", "author_kind": "agent"})
    finally:
        conn.close()


def central_costs(url: str, cwd) -> dict:
    done = run_cli("sql", "--central", url, "--format", "csv",
                   "SELECT agent, repo_id, sum(input_tokens) AS input_tokens, sum(estimated_cost_usd) AS cost, "
                   "sum(shell_commands) AS commands FROM agent_sessions GROUP BY ALL ORDER BY ALL", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return {(r["agent"], r["repo_id"]): (int(r["input_tokens"]), float(r["cost"]), int(r["commands"]))
            for r in csv.DictReader(io.StringIO(done.stdout))}


def test_agent_sessions_sync_and_answer_cost_per_agent_per_repo(central_url, server_factory, tmp_path):
    server = server_factory(central_url)
    laptop, desktop = tmp_path / "laptop", tmp_path / "desktop"
    session(laptop, "claude-code", "s-1", "repo_a", (1000, 200, 5000, 300))
    session(laptop, "codex", "s-2", "repo_a", (400, 100, 0, 0))
    session(desktop, "claude-code", "s-3", "repo_b", (2000, 50, 0, 0), commands=1)
    token = make_token(central_url, "laptop")
    login(laptop, server.address, token, tmp_path)
    login(desktop, server.address, make_token(central_url, "desktop"), tmp_path)
    assert "agent sessions: 2 sent, 2 accepted or updated, 0 unchanged, 0 rejected" in sync(laptop, tmp_path).stdout
    assert "agent sessions: 1 sent, 1 accepted" in sync(desktop, tmp_path).stdout
    assert "agent sessions" not in sync(laptop, tmp_path).stdout  # nothing new: nothing sent

    costs = central_costs(central_url, tmp_path)
    assert costs.keys() == {("claude-code", "repo_a"), ("codex", "repo_a"), ("claude-code", "repo_b")}
    assert costs[("claude-code", "repo_a")][0] == 1000 and costs[("claude-code", "repo_a")][2] == 2
    assert abs(costs[("claude-code", "repo_a")][1] - cost(1000, 200, 5000, 300)) < 1e-9
    assert abs(costs[("claude-code", "repo_b")][1] - cost(2000, 50, 0, 0)) < 1e-9
    assert central_count(central_url, "SELECT count(*) FROM agent_session_usage WHERE machine = 'laptop'") == 2

    # the session goes on: a later import reads more tokens, and the push replaces the row
    time.sleep(0.01)
    session(laptop, "claude-code", "s-1", "repo_a", (1500, 300, 9000, 300), commands=0)
    assert "agent sessions: 1 sent, 1 accepted or updated" in sync(laptop, tmp_path).stdout
    assert central_costs(central_url, tmp_path)[("claude-code", "repo_a")][0] == 1500
    assert central_count(central_url, "SELECT count(*) FROM agent_session_usage") == 3

    # an older reading arriving late (or the same one again) changes nothing
    stale = {"agent": "claude-code", "session_id": "s-1", "model": "claude-opus-4-20250514", "requests": 1,
             "input_tokens": 1, "output_tokens": 1, "cache_read_tokens": 0, "cache_write_tokens": 0,
             "started_at": time.time() - 600, "imported_at": time.time() - 300}
    status, answer, _ = call(server.address, "POST", "/v1/agent-sessions/batch", token=token,
                             body={"agent_sessions": [stale, {**stale, "prompt": "never stored", "session_id": ""}]})
    assert status == 200 and (answer["accepted"], answer["duplicates"], len(answer["rejected"])) == (0, 1, 1), answer
    assert central_costs(central_url, tmp_path)[("claude-code", "repo_a")][0] == 1500

    admin.erase(central_url, "laptop", actor="test")
    assert central_count(central_url, "SELECT count(*) FROM agent_session_usage") == 1  # the desktop's

"""Codex (the real CLI, pinned in package.json) running scripted `exec_command` calls with
DevTrace's hook installed in $CODEX_HOME and trusted as a user does in `/hooks`: what the
store says about each command. One session per module."""

import json

import pytest

from tests.agents.conftest import other_repo
from tests.agents.harness import run_session
from tests.support import devtrace, devtrace_env

pytestmark = pytest.mark.agents

FIFTY_KB = "yes x | head -c 51200"
HEREDOC = "cat <<'EOF'\nhello\nEOF"
CD_OTHER = "cd ../other && git diff --stat"
CD_HOME = "cd ~/elsewhere && git diff --stat"
LINES = ["true", "false", "sh -c 'exit 3'", "sleep 1.2", FIFTY_KB, "ls /nonexistent-devtrace-path", "grep -q nomatch a.txt",
         "sh -c 'kill -TERM $$'", "sh -c 'kill -KILL $$'", CD_OTHER, CD_HOME, "cd sub && git status --short", HEREDOC,
         " echo leading-space"]
TURNS = [[{"cmd": line, "yield_time_ms": 10000}] for line in LINES]
TURNS.append([{"cmd": "echo parallel-one", "yield_time_ms": 10000}, {"cmd": "echo parallel-two", "yield_time_ms": 10000}])
YIELDED = "sleep 2; exit 4"  # still running when the turn ends: PreToolUse only
TURNS.append([{"cmd": YIELDED, "yield_time_ms": 250}])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    def prepare(home, project):
        other_repo(project.parent / "other")
        other_repo(home / "elsewhere")

    return run_session("codex", tmp_path_factory.mktemp("codex"), TURNS, prepare=prepare,
                       expected=sum(len(t) for t in TURNS))


def test_the_session_ran_every_scripted_call_and_each_is_one_event(run):
    """Issue 20, item 10: the hook is installed where $CODEX_HOME points, where Codex reads it."""
    assert run.result["exit"] == 0, run.stderr
    assert len(run.payloads("PostToolUse")) == sum(len(t) for t in TURNS) - 1  # not YIELDED's
    assert len(run.events()) == sum(len(t) for t in TURNS)
    assert run.stdout.count('"command_execution"') >= len(LINES)


@pytest.mark.parametrize("line, code", [("true", 0), ("false", 1), ("sh -c 'exit 3'", 3), ("sleep 1.2", 0), (FIFTY_KB, 0),
                                        ("ls /nonexistent-devtrace-path", 2), ("grep -q nomatch a.txt", 1),
                                        ("sh -c 'kill -TERM $$'", 143), ("sh -c 'kill -KILL $$'", 137), (HEREDOC, 0),
                                        (" echo leading-space", 0), ("echo parallel-one", 0), ("echo parallel-two", 0)])
def test_exit_codes_from_the_transcript(run, line, code):
    """Issue 20, item 8: PostToolUse has no exit code; the transcript has it, exactly."""
    event = run.event(line)
    assert event["exit_code"] == code
    assert (event["agent_id"], event["author_kind"], event["captured_by"]) == ("codex", "agent", "codex")


def test_duration_from_the_pre_post_pair(run):
    event = run.event("sleep 1.2")
    assert 1200 <= event["duration_ms"] < 5000 and event["duration_approximate"] == 1


@pytest.mark.parametrize("line", [CD_OTHER, CD_HOME])
def test_cd_into_another_repo_files_the_command_there(run, line):
    event = run.event(line)
    assert event["repo_id"] not in (None, run.event("true")["repo_id"])
    assert event["files_touched_count"] == 1


def test_no_pending_start_is_left(run):
    from tests.support import rows

    assert rows(run.store, "SELECT count(*) FROM hook_pending WHERE call_key NOT LIKE 'recorded:%'")[0][0] == 0


def test_status_reads_codex_trust(run, tmp_path):
    """Issue 20, item 7: trusted (as the harness did through Codex's own hooks/list), then
    re-installed with another store path: modified, and Codex skips it again."""
    env = devtrace_env(HOME=str(run.home), CODEX_HOME=str(run.home / "codex-home"))
    rows = json.loads(devtrace("hook", "status", "--json", cwd=run.project, env=env).stdout)
    (codex,) = [r for r in rows if r["agent"] == "codex" and r["scope"] == "user"]
    assert codex["file"] == str(run.home / "codex-home" / "hooks.json")
    assert codex["trust"] == "trusted"
    done = devtrace("hook", "install", "codex", "--path", str(tmp_path / "elsewhere"), cwd=run.project, env=env)
    assert "trust" in done.stdout.decode() and "/hooks" in done.stdout.decode()
    rows = json.loads(devtrace("hook", "status", "--json", cwd=run.project, env=env).stdout)
    (codex,) = [r for r in rows if r["agent"] == "codex" and r["scope"] == "user"]
    assert codex["trust"] == "modified"
    text = devtrace("hook", "status", cwd=run.project, env=env).stdout.decode()
    assert "Codex skips it" in text


def test_a_command_still_running_when_the_turn_ends_is_recorded(run):
    """Issue 20, item 9: PreToolUse only; at Stop it is one event, its exit unknown unless the
    transcript has it by then."""
    event = run.event(YIELDED)
    assert event["exit_code"] in (None, 4) and event["program"] == "sleep"
    assert event["repo_id"] == run.event("true")["repo_id"]


def test_the_live_drainer_stores_the_sessions_tokens_from_its_transcript(run):
    """Issue 25 (tokens from the live drainer): at Stop the drainer reads the rollout the
    payload names; the session's row holds its last `total_token_usage` (cached input apart),
    without `devtrace import`."""
    from tests.support import rows

    stop = run.payloads("Stop")[-1]
    total = None
    with open(stop["transcript_path"], encoding="utf-8") as f:
        for line in f:
            payload = json.loads(line).get("payload") or {}
            if payload.get("type") == "token_count" and isinstance(payload.get("info"), dict):
                total = payload["info"]["total_token_usage"]
    assert total is not None and total["input_tokens"] > 0
    stored = rows(run.store, "SELECT sum(input_tokens), sum(output_tokens), sum(cache_read_tokens)"
                             f" FROM agent_session_usage WHERE agent = 'codex' AND session_id = '{_uuid(stop)}'")[0]
    cached = total.get("cached_input_tokens", 0)
    assert list(stored) == [total["input_tokens"] - cached, total["output_tokens"], cached]


def _uuid(payload: dict) -> str:
    import uuid

    return str(uuid.UUID(payload["session_id"]))  # a UUID, so safe to put in the SQL text

"""A user interrupting a running command in the agent's interactive UI (Issue 20, items 4 and
14): the real CLI in a tmux pane, its scripted model asking for `sleep 10` in a git repo, the
user's cancel key about 3 s into the command, then the session ended as a user ends it. The
store must hold one event for the call: exit 130, not a timeout, timed to when it stopped."""

import pytest

from tests.agents.harness import run_session
from tests.support import rows

pytestmark = pytest.mark.agents

SLEEP = "sleep 10"


def _the_interrupted_call(run) -> dict:
    event = run.event(SLEEP)
    assert (event["exit_code"], event["timed_out"]) == (130, 0)
    assert 2000 <= event["duration_ms"] < 8000, event["duration_ms"]
    assert event["repo_id"] is not None and event["program"] == "sleep"
    assert rows(run.store, "SELECT count(*) FROM hook_pending WHERE call_key NOT LIKE 'recorded:%'")[0][0] == 0
    return event


def test_claude_code_escape_during_a_running_command(tmp_path):
    """Esc fires no PostToolUse: the PreToolUse stays pending until /exit's SessionEnd, which
    resolves it from the transcript's interrupted tool result."""
    steps = [["payload", "PreToolUse"], ["sleep", 3], ["keys", "Escape"], ["text", "Interrupted"],
             ["type", "/exit"], ["keys", "Enter"], ["exit"]]
    run = run_session("claude-code", tmp_path, [[{"command": SLEEP, "description": "scripted"}]], timeout=45,
                      interactive=steps, expected=1)
    assert run.result["exit"] == 0, run.stdout
    _the_interrupted_call(run)


@pytest.mark.parametrize("key", ["Escape", "C-c"])
def test_gemini_cli_cancel_during_a_running_command(tmp_path, key):
    """Esc, or Ctrl-C once, cancels the running command: Gemini's shell tool returns "Command
    was cancelled by user" and AfterTool fires with it."""
    steps = [["payload", "BeforeTool"], ["sleep", 3], ["keys", key], ["sleep", 2],
             ["type", "/quit"], ["keys", "Enter"], ["exit"]]
    run = run_session("gemini", tmp_path, [[{"command": SLEEP}]], timeout=45, interactive=steps, expected=1)
    assert run.result["exit"] == 0, run.stdout
    _the_interrupted_call(run)

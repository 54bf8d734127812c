"""A user interrupting a running command in the agent's interactive UI (Issue 20, items 4 and
14): the real CLI in a tmux pane, its scripted model asking for `sleep 10` in a git repo, the
user's cancel key about 3 s into the command, then the session ended as a user ends it. The
store must hold one event for the call: exit 130, not a timeout, timed to when it stopped.

Claude Code 2.1.197: Esc fires no PostToolUse and no Stop; the PreToolUse waits until the next
turn's Stop or the SessionEnd (/exit, Ctrl-C twice, Ctrl-D twice each fire it), which resolve
it from the transcript's interrupted tool result. Gemini CLI 0.61.0: Esc or Ctrl-C aborts the
shell tool, which returns "Command was cancelled by user" to an AfterTool hook as usual.
`claude -p` given SIGINT fires SessionEnd only sometimes; killed outright, nothing (test_headless_...)."""

import json

import pytest

from tests.agents.harness import run_session
from tests.support import rows

pytestmark = pytest.mark.agents

SLEEP = "sleep 10"
CANCEL = [["sleep", 3]]  # then the cancel key: about 3 s into the command


def _pending(run) -> list:
    return rows(run.store, "SELECT call_key FROM hook_pending WHERE call_key NOT LIKE 'recorded:%'")


def _the_interrupted_call(run, pending: tuple = ()) -> None:
    event = run.event(SLEEP)
    assert (event["exit_code"], event["timed_out"]) == (130, 0)
    assert 2000 <= event["duration_ms"] < 8000, event["duration_ms"]
    assert event["repo_id"] == _repo_id(run) and event["program"] == "sleep"
    assert [tuple(r) for r in _pending(run)] == [(key,) for key in pending]


def _repo_id(run) -> str:
    from devtrace.capture import identity
    from devtrace.store.key import read_key

    return identity.repo_id(read_key(str(run.store)), str(run.project))


CLAUDE_ENDS = {"/exit": [["type", "/exit"], ["keys", "Enter"]], "ctrl-c twice": [["keys", "C-c", "C-c"]],
               "ctrl-d twice": [["keys", "C-d", "C-d"]],
               "another prompt, then /exit": [["type", "go on"], ["keys", "Enter"], ["payload", "Stop"],
                                              ["type", "/exit"], ["keys", "Enter"]]}


@pytest.mark.parametrize("end", CLAUDE_ENDS)
def test_claude_code_escape_during_a_running_command(tmp_path, end):
    steps = [["payload", "PreToolUse"], *CANCEL, ["keys", "Escape"], ["text", "Interrupted"], *CLAUDE_ENDS[end], ["exit"]]
    run = run_session("claude-code", tmp_path, [[{"command": SLEEP, "description": "scripted"}]], timeout=45,
                      interactive=steps, expected=1)
    assert run.result["exit"] == 0, run.stdout
    assert run.payloads("PostToolUse") == run.payloads("PostToolUseFailure") == []  # Esc fires no end of its own
    assert len(run.payloads("SessionEnd")) == 1
    _the_interrupted_call(run)


GEMINI = {"Esc, then /quit": ("Escape", [["type", "/quit"], ["keys", "Enter"]]),
          "Ctrl-C, then Ctrl-C twice": ("C-c", [["keys", "C-c", "C-c"]]),
          "Esc, then Ctrl-D twice": ("Escape", [["keys", "C-d", "C-d"]])}


@pytest.mark.parametrize("way", GEMINI)
def test_gemini_cli_cancel_during_a_running_command(tmp_path, way):
    key, end = GEMINI[way]
    steps = [["payload", "BeforeTool"], *CANCEL, ["keys", key], ["text", "cancelled"], *end, ["exit"]]
    run = run_session("gemini", tmp_path, [[{"command": SLEEP}]], timeout=45, interactive=steps, expected=1)
    assert run.result["exit"] == 0, run.stdout
    (after,) = run.payloads("AfterTool")
    assert "Command was cancelled by user" in json.dumps(after["tool_response"])
    _the_interrupted_call(run)


def test_headless_claude_code_interrupted_by_sigint(tmp_path):
    """`claude -p` given SIGINT (Ctrl-C) during the command fires no PostToolUse and no Stop.
    Claude Code 2.1.197 then either fires SessionEnd (reason "other") and exits 0, which
    resolves the start as an interrupt, or (about half the runs here) exits 1 without it,
    having written the interrupted result to its transcript: the start stays pending until, a
    day later, the next agent record resolves it from that transcript. Either way: one event,
    130, timed to the interrupt."""
    steps = [["payload", "PreToolUse"], *CANCEL, ["keys", "C-c"], ["exit"]]
    run = run_session("claude-code", tmp_path, [[{"command": SLEEP, "description": "scripted"}]], timeout=45,
                      interactive=steps, prepare=lambda home, project: ["-p"], expected=1)
    (pre,) = run.payloads("PreToolUse")
    if run.payloads("SessionEnd"):
        assert run.result["exit"] == 0
    else:
        assert run.result["exit"] == 1 and run.events() == [] and [tuple(r) for r in _pending(run)] == [(pre["tool_use_id"],)]
        _a_day_later(run, pre)
    assert run.payloads("PostToolUse") == run.payloads("PostToolUseFailure") == run.payloads("Stop") == []
    _the_interrupted_call(run, pending=() if run.payloads("SessionEnd") else ("toolu_later",))


def test_headless_claude_code_killed_during_a_command_is_written_a_day_later(tmp_path):
    """`claude -p` killed (SIGKILL) during the command fires no hook at all, and its transcript
    holds no result for the call: nothing says how or when it ended. Its start stays pending
    until, a day later (PENDING_MAX_AGE_S), the next agent record writes it once with its end
    unknown (NULL)."""
    steps = [["payload", "PreToolUse"], *CANCEL, ["kill", "KILL"], ["exit"]]
    run = run_session("claude-code", tmp_path, [[{"command": SLEEP, "description": "scripted"}]], timeout=45,
                      interactive=steps, prepare=lambda home, project: ["-p"])
    assert run.result["exit"] == 137, run.result
    assert [p.name.split(".")[0] for p in (run.run_dir / "payloads").iterdir()] == ["PreToolUse"]
    (pre,) = run.payloads("PreToolUse")
    assert run.events() == [] and [tuple(r) for r in _pending(run)] == [(pre["tool_use_id"],)]
    _a_day_later(run, pre)
    event = run.event(SLEEP)
    assert (event["exit_code"], event["timed_out"], event["duration_ms"]) == (None, None, None)
    assert event["repo_id"] == _repo_id(run) and event["program"] == "sleep"
    assert [tuple(r) for r in _pending(run)] == [("toolu_later",)]


def _a_day_later(run, pre: dict) -> None:
    """A later session's PreToolUse, arriving PENDING_MAX_AGE_S after this one's start, taken
    by the drainer (in the session's HOME, where Claude keeps its transcripts)."""
    import os
    import subprocess
    import sys
    import time

    from devtrace.capture import spool
    from devtrace.store.hook_state import PENDING_MAX_AGE_S
    from tests.support import devtrace_env

    later = {**pre, "session_id": "a-later-session", "tool_use_id": "toolu_later", "tool_input": {"command": "true"}}
    path = spool.write(str(run.store), "agent.later", "agent", ["claude-code"], json.dumps(later).encode())
    a_day_later = time.time() + PENDING_MAX_AGE_S + 60
    os.utime(path, (a_day_later, a_day_later))
    done = subprocess.run([sys.executable, "-m", "devtrace.capture.drainer", "--path", str(run.store), "--once"],
                          cwd=run.project, env=devtrace_env(HOME=str(run.home)), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr

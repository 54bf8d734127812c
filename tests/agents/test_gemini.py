"""Gemini CLI (the real CLI, pinned in package.json) running scripted `run_shell_command`
calls with DevTrace's hook installed: what the store says about each command. One session
per module."""

import json

import pytest

from tests.agents.conftest import other_repo
from tests.agents.harness import run_session
from tests.support import rows

pytestmark = pytest.mark.agents

FIFTY_KB = "yes x | head -c 51200"
HEREDOC = "cat <<'EOF'\nhello\nEOF"
CD_OTHER = "cd ../other && git diff --stat"
FAKE_EXIT = "printf 'x\\nExit Code: 7\\n'"
FAKE_ZERO = "sh -c 'echo \"Exit Code: 0\"; exit 2'"
FAKE_SIGNAL = "printf 'a\\nSignal: 9\\n'"
LINES = ["true", "false", "sh -c 'exit 3'", "sleep 1.2", FIFTY_KB, "ls /nonexistent-devtrace-path", FAKE_EXIT, FAKE_ZERO,
         FAKE_SIGNAL, "sh -c 'kill -TERM $$'", "sh -c 'kill -KILL $$'", CD_OTHER, HEREDOC, " echo leading-space"]
TURNS = [[{"command": line}] for line in LINES]
TURNS.append([{"command": "git diff --stat", "dir_path": "{other}"}])
TURNS.append([{"command": "sleep 1"}, {"command": "echo parallel-two"}])
BACKGROUND = "sleep 1; exit 7"
TURNS.append([{"command": BACKGROUND, "is_background": True}])
SILENT = "sleep 20"  # no output past Gemini's inactivity timeout (set to 3 s below)
TURNS.append([{"command": SILENT}])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gemini")
    other = root / "other"
    for turn in TURNS:
        for call in turn:
            if call.get("dir_path") == "{other}":
                call["dir_path"] = str(other)

    def prepare(home, project):
        settings = home / ".gemini" / "settings.json"
        settings.write_text(json.dumps({**json.loads(settings.read_text()), "tools": {"shell": {"inactivityTimeout": 3}}}))
        other_repo(other)
        return ["--include-directories", str(other)]

    return run_session("gemini", root, TURNS, prepare=prepare, expected=sum(len(t) for t in TURNS))


def test_the_session_ran_every_scripted_call(run):
    assert run.result["exit"] == 0, run.stderr
    assert len(run.payloads("AfterTool")) == sum(len(t) for t in TURNS)
    assert rows(run.store, "SELECT count(*) FROM hook_pending WHERE call_key NOT LIKE 'recorded:%'")[0][0] == 0


@pytest.mark.parametrize("line, code", [("true", 0), ("false", 1), ("sh -c 'exit 3'", 3), ("sleep 1.2", 0), (FIFTY_KB, 0),
                                        ("ls /nonexistent-devtrace-path", 2), ("sh -c 'kill -TERM $$'", 143),
                                        ("sh -c 'kill -KILL $$'", 137), (HEREDOC, 0), ("echo parallel-two", 0)])
def test_exit_codes(run, line, code):
    event = run.event(line)
    assert (event["exit_code"], event["timed_out"]) == (code, 0)
    assert (event["agent_id"], event["author_kind"], event["captured_by"]) == ("gemini", "agent", "gemini")


@pytest.mark.parametrize("line, code", [(FAKE_EXIT, 0), (FAKE_ZERO, 2), (FAKE_SIGNAL, 0)])
def test_the_exit_code_is_geminis_not_the_commands_output(run, line, code):
    """Issue 20, item 13."""
    assert run.event(line)["exit_code"] == code


def test_duration_from_geminis_own_timestamps(run):
    """Issue 20, item 17: paired with the nearest start, timed by Gemini's own clock."""
    for line, low in (("sleep 1.2", 1200), ("sleep 1", 1000)):
        event = run.event(line)
        assert low <= event["duration_ms"] < low + 3000 and event["duration_approximate"] == 1


def test_dir_path_files_the_command_in_that_repo(run):
    """Issue 20, item 18."""
    event = run.event("git diff --stat")
    assert event["repo_id"] not in (None, run.event("true")["repo_id"])
    assert event["files_touched_count"] == 1
    assert run.event(CD_OTHER)["repo_id"] == event["repo_id"]


def test_a_leading_space_does_not_hide_an_agents_command(run):
    """Issue 20, item 16."""
    assert run.event(" echo leading-space")["exit_code"] == 0


def test_the_hook_entry_is_named(run):
    """Issue 20, item 19: the UI shows "DevTrace", not a long Python command line."""

    settings = json.loads((run.home / ".gemini" / "settings.json").read_text())
    ours = [h for g in settings["hooks"]["AfterTool"] for h in g["hooks"] if "devtrace" in h["command"]]
    assert [h.get("name") for h in ours] == ["DevTrace"]


def test_a_background_command_is_not_a_success_at_launch(run):
    """Issue 20, item 15."""
    event = run.event(BACKGROUND)
    assert (event["exit_code"], event["timed_out"], event["duration_ms"]) == (None, None, None)


def test_an_untrusted_folder_runs_nothing_and_status_says_so(run, tmp_path):
    """Issue 20, item 19: without --skip-trust, headless Gemini refuses the untrusted folder
    (exit 55, no hook); `devtrace hook status` there says Gemini runs no hook."""
    import os
    import subprocess

    from tests.agents.harness import BIN
    from tests.support import devtrace, devtrace_env

    env = {"HOME": str(run.home), "PATH": os.pathsep.join([str(BIN), "/usr/bin", "/bin"]), "GEMINI_API_KEY": "x",
           "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9", "GEMINI_CLI_NO_RELAUNCH": "true"}
    done = subprocess.run(["unshare", "-n", "gemini", "-p", "hi", "--yolo"], cwd=run.project, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 55 and "not running in a trusted directory" in done.stderr
    text = devtrace("hook", "status", cwd=run.project, env=devtrace_env(HOME=str(run.home))).stdout.decode()
    assert "not one Gemini CLI trusts" in text
    (run.home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(run.project): "TRUST_FOLDER"}))
    text = devtrace("hook", "status", cwd=run.project, env=devtrace_env(HOME=str(run.home))).stdout.decode()
    assert "not one Gemini CLI trusts" not in text


def test_an_inactivity_timeout_is_a_timeout(run):
    """Issue 20, item 14: Gemini cancels a command silent past tools.shell.inactivityTimeout."""
    event = run.event(SILENT)
    assert (event["exit_code"], event["timed_out"]) == (124, 1)
    assert 3000 <= event["duration_ms"] < 15000


def test_the_live_drainer_stores_the_sessions_tokens_from_its_transcript(run):
    """Issue 25 (tokens from the live drainer): at SessionEnd the drainer reads the transcript
    the payload names; the session's row holds the tokens of Gemini's responses (each message
    once, whichever of its rewrites; cached input apart, thoughts with the output), without
    `devtrace import`."""
    import uuid

    end = run.payloads("SessionEnd")[-1]
    tokens: dict = {}
    with open(end["transcript_path"], encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            messages = record["$set"].get("messages", []) if isinstance(record.get("$set"), dict) else [record]
            for message in messages:
                if isinstance(message, dict) and message.get("type") == "gemini" and isinstance(message.get("tokens"), dict):
                    tokens[message["id"]] = message["tokens"]
    assert tokens
    expected = [sum(t.get("input", 0) - t.get("cached", 0) for t in tokens.values()),
                sum(t.get("output", 0) + t.get("thoughts", 0) for t in tokens.values()),
                sum(t.get("cached", 0) for t in tokens.values()), len(tokens)]
    assert expected[0] > 0 and expected[1] > 0
    stored = rows(run.store, "SELECT sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(requests)"
                             f" FROM agent_session_usage WHERE agent = 'gemini' AND session_id = '{uuid.UUID(end['session_id'])}'")[0]
    assert list(stored) == expected

"""Claude Code (the real CLI, pinned in package.json) running scripted Bash calls with
DevTrace's hook installed: what the store says about each command. One session per module."""

import pytest

from tests.agents.conftest import other_repo
from tests.agents.harness import run_session
from tests.support import devtrace, devtrace_env

pytestmark = pytest.mark.agents

FIFTY_KB = "yes x | head -c 51200"
TIMEOUT_TEXT = "echo 'FAILED tests/test_net.py::test_connect_timeout' >&2; exit 1"
HEREDOC = "cat <<'EOF'\nhello\nEOF"
CD_OTHER = "cd ../other && git diff --stat"
CD_HOME = "cd ~/elsewhere && git diff --stat"
TURNS = [[{"command": c, "description": "scripted"}] for c in (
    "true", "false", "sh -c 'exit 3'", "sleep 1.2", FIFTY_KB, "ls /nonexistent-devtrace-path",
    "grep -q nomatch a.txt", "test -f missing.txt", "[ -d missing ]", "diff a.txt sub/b.txt", "git diff --quiet --exit-code",
    TIMEOUT_TEXT, "sh -c 'kill -TERM $$'", "sh -c 'kill -KILL $$'",
    CD_OTHER, CD_HOME, "cd sub && git status --short", HEREDOC, " echo leading-space")]
TURNS.insert(4, [{"command": "sleep 5", "description": "scripted", "timeout": 1000}])
DENIED = "rm -f nothing.txt"  # refused by --disallowedTools: PreToolUse, then no PostToolUse
TURNS.append([{"command": DENIED, "description": "scripted"}])
BACKGROUND = "sleep 1; exit 7"
TURNS.append([{"command": BACKGROUND, "description": "scripted", "run_in_background": True}])
TURNS.append([{"command": "echo parallel-one", "description": "scripted"},
              {"command": "echo parallel-two", "description": "scripted"}])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    def prepare(home, project):
        # DevTrace also installed at project scope, through another path to the same store (an
        # identical entry Claude would run once): Claude runs both entries for each call
        (project.parent / "store-link").symlink_to(project.parent / "store")
        done = devtrace("hook", "install", "claude-code", "--scope", "project", "--path", str(project.parent / "store-link"),
                        cwd=project, env=devtrace_env(HOME=str(home)))
        assert done.returncode == 0, done.stderr
        other_repo(project.parent / "other")
        other_repo(home / "elsewhere")
        (project / "a.txt").write_text("one\nchanged\n")  # so `git diff --quiet` exits 1
        return ["--disallowedTools", "Bash(rm:*)"]

    return run_session("claude-code", tmp_path_factory.mktemp("claude"), TURNS, prepare=prepare,
                       expected=sum(len(t) for t in TURNS))


def test_the_session_ran_every_scripted_call_and_each_is_one_event(run):
    """Issue 20, item 20: installed at user and project scope, each call is recorded once
    (run.event asserts one event per command line)."""
    assert run.result["exit"] == 0, run.stderr
    assert len(run.payloads("PreToolUse")) == sum(len(t) for t in TURNS)
    assert len(run.events()) == sum(len(t) for t in TURNS)
    assert {e["session_id"] for e in run.events()} == {run.payloads("PreToolUse")[0]["session_id"]}


@pytest.mark.parametrize("line, code", [("true", 0), ("false", 1), ("sh -c 'exit 3'", 3), ("ls /nonexistent-devtrace-path", 2),
                                        (FIFTY_KB, 0), (HEREDOC, 0), ("echo parallel-one", 0), ("echo parallel-two", 0)])
def test_exit_codes(run, line, code):
    event = run.event(line)
    assert (event["exit_code"], event["timed_out"]) == (code, 0)
    assert (event["agent_id"], event["author_kind"], event["captured_by"]) == ("claude-code", "agent", "claude-code")


@pytest.mark.parametrize("line", ["grep -q nomatch a.txt", "test -f missing.txt", "[ -d missing ]",
                                  "diff a.txt sub/b.txt", "git diff --quiet --exit-code"])
def test_exit_1_that_claude_reports_as_a_success_is_stored_as_1(run, line):
    """Issue 20, item 1: PostToolUse, with `returnCodeInterpretation`, for these exits 1."""
    assert run.event(line)["exit_code"] == 1


def test_a_failure_that_mentions_timeout_is_not_a_timeout(run):
    """Issue 20, item 2."""
    assert (run.event(TIMEOUT_TEXT)["exit_code"], run.event(TIMEOUT_TEXT)["timed_out"]) == (1, 0)


def test_a_real_timeout_is_124_timed_out(run):
    """Issue 20, item 3: killed at Claude's timeout -> 124 and timed_out, as `devtrace run --timeout`."""
    event = run.event("sleep 5")
    assert (event["exit_code"], event["timed_out"]) == (124, 1)
    assert 1000 <= event["duration_ms"] < 5000


@pytest.mark.parametrize("line, code", [("sh -c 'kill -TERM $$'", 143), ("sh -c 'kill -KILL $$'", 137)])
def test_killed_by_a_signal_is_128_plus_n_and_no_timeout(run, line, code):
    """Claude prints "Command timed out" after a SIGTERM kill too: only the duration tells."""
    assert (run.event(line)["exit_code"], run.event(line)["timed_out"]) == (code, 0)


def test_duration_is_claudes_own(run):
    event = run.event("sleep 1.2")
    assert 1200 <= event["duration_ms"] < 4000 and event["duration_approximate"] == 0


def test_cd_into_a_subfolder_stays_in_the_repo(run):
    assert run.event("cd sub && git status --short")["repo_id"] == run.event("true")["repo_id"] is not None


@pytest.mark.parametrize("line", [CD_OTHER, CD_HOME])
def test_cd_into_another_repo_files_the_command_there(run, line):
    """Issue 20, item 6: Claude resets its cwd to the project, so the payload's cwd is wrong."""
    event = run.event(line)
    assert event["repo_id"] not in (None, run.event("true")["repo_id"])
    assert event["files_touched_count"] == 1 and event["lines_added"] == 1


def test_a_leading_space_does_not_hide_an_agents_command(run):
    """Issue 20, item 16: the shells' ignore-space rule is a human's choice, not an agent's."""
    assert run.event(" echo leading-space")["exit_code"] == 0


def test_a_background_command_is_recorded_with_its_real_outcome(run):
    """Issue 20, item 5: PostToolUse comes at launch (never a success there); the outcome comes
    later, as Claude's task notification in the transcript (`claude -p` waits for it)."""
    event = run.event(BACKGROUND)
    assert (event["exit_code"], event["timed_out"], event["duration_approximate"]) == (7, 0, 1)
    assert 1000 <= event["duration_ms"] < 10000


def test_a_call_that_never_got_its_post_is_resolved_at_the_end_of_the_turn(run):
    """Issue 20, item 4: a rejected (or interrupted) call fires PreToolUse and no PostToolUse;
    at Stop/SessionEnd it becomes one event, 130, timed to its result in the transcript."""
    event = run.event(DENIED)
    assert (event["exit_code"], event["timed_out"], event["duration_approximate"]) == (130, 0, 1)
    assert 0 <= event["duration_ms"] < 5000
    assert event["repo_id"] == run.event("true")["repo_id"] and event["program"] == "rm"
    from tests.support import rows

    assert rows(run.store, "SELECT count(*) FROM hook_pending WHERE call_key NOT LIKE 'recorded:%'")[0][0] == 0


def test_the_live_drainer_stores_the_sessions_tokens_from_its_transcript(run):
    """Issue 25 (tokens from the live drainer): at Stop/SessionEnd the drainer reads the
    transcript the payload names; the session's row holds the tokens of its responses (each
    response once, however many lines Claude writes of it), without `devtrace import`."""
    import json

    from tests.support import rows

    transcript = run.payloads("SessionEnd")[-1]["transcript_path"]
    totals, seen = [0, 0, 0, 0], set()
    with open(transcript, encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            message = entry.get("message") if isinstance(entry.get("message"), dict) else {}
            if entry.get("type") == "assistant" and isinstance(message.get("usage"), dict) and message["id"] not in seen:
                seen.add(message["id"])
                usage = message["usage"]
                for i, kind in enumerate(("input_tokens", "output_tokens", "cache_read_input_tokens",
                                          "cache_creation_input_tokens")):
                    totals[i] += usage.get(kind) or 0
    assert totals[0] > 0 and totals[1] > 0
    stored = rows(run.store, "SELECT sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),"
                             " sum(cache_write_tokens), sum(requests) FROM agent_session_usage"
                             f" WHERE agent = 'claude-code' AND session_id = '{_uuid(run.payloads('SessionEnd')[-1])}'")[0]
    assert list(stored) == totals + [len(seen)]


def _uuid(payload: dict) -> str:
    import uuid

    return str(uuid.UUID(payload["session_id"]))  # a UUID, so safe to put in the SQL text

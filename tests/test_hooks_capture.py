"""What hooks and `devtrace run` share: the command normalisation, the program, author_kind,
and events with unknown exit codes read and scored like any other."""

import json
import shutil
import time

import pytest

from devtrace.capture.identity import command_words, program
from tests.hook_support import Shell, wait_events
from tests.support import devtrace, devtrace_env, devtrace_here, rows


@pytest.mark.parametrize("line, words", [
    ("pytest -q", ["pytest", "-q"]),
    ("  pytest   -q  ", ["pytest", "-q"]),
    ("sh -c 'exit 3'", ["sh", "-c", "exit 3"]),
    ('sh -c "exit 3"', ["sh", "-c", "exit 3"]),
    ("grep a\\ b f", ["grep", "a b", "f"]),
    ("make test|tee log", ["make", "test", "|", "tee", "log"]),
    ("make test | tee log", ["make", "test", "|", "tee", "log"]),
    ("a&&b; c", ["a", "&&", "b", ";", "c"]),
    ("echo a#b # c", ["echo", "a#b", "#", "c"]),
    ("echo 'open", ["echo", "'open"]),
])
def test_one_normalisation_of_a_command_line(line, words):
    assert command_words(line) == words


@pytest.mark.parametrize("words, name", [
    (["pytest", "-q"], "pytest"),
    (["FOO=1", "BAR=2", "./run.sh"], "run.sh"),
    (["sudo", "-E", "env", "A=1", "/usr/bin/make", "all"], "make"),
    (["time", "-p", "cargo", "build"], "cargo"),
    (["A=1"], None),
    (["sudo", "-u", "nobody", "true"], "true"),
    (["nice", "-n", "10", "make"], "make"),
    (["nice", "-10", "make"], "make"),
    (["env", "-u", "HOME", "make"], "make"),
    (["env", "-i", "A=1", "make"], "make"),
    (["timeout", "-s", "KILL", "5", "make"], "make"),
    (["sudo", "--", "make"], "make"),
    (["(", "cd", "x", ";", "make", ")"], None),
    (["{", "make", ";", "}"], None),
])
def test_program_skips_assignments_and_wrappers(words, name):
    assert program(words) == name


def test_devtrace_run_says_who_ran_it(repo, store):
    base = ["run", "--keep-noop", "--quiet", "--path", str(store), "--", "true"]
    devtrace(*base, cwd=repo)  # no terminal, no agent: unknown
    devtrace("run", "--agent", "ci-bot", *base[1:], cwd=repo)
    devtrace(*base, cwd=repo, env=devtrace_env(CLAUDECODE="1"))
    assert [r["author_kind"] for r in rows(store)] == [None, "agent", "agent"]
    assert {r["captured_by"] for r in rows(store)} == {"run"}


def test_a_command_a_hook_typed_as_devtrace_run_is_recorded_once(repo, store):
    """`devtrace run` records itself; the hook leaves it alone."""
    shell = Shell(repo.parent, "bash", store, repo)
    try:
        shell.type(f"devtrace run --keep-noop --quiet --path {store} -- true")
        events = wait_events(store, 1)
    finally:
        shell.close()
    assert events[0]["captured_by"] == "run"


def test_events_without_an_exit_code_are_read_and_scored(tmp_path, repo, model_store):
    store = tmp_path / "scored"
    shutil.copytree(model_store, store)  # its active model, no events yet
    payload = {"session_id": "s1", "cwd": str(repo), "tool_name": "Bash", "tool_use_id": "c1",
               "tool_input": {"command": "pytest -q"}, "tool_response": "ok"}
    for event in ("PreToolUse", "PostToolUse"):
        devtrace("hook", "record", "codex", "--path", str(store), cwd=repo,
                 input=json.dumps({**payload, "hook_event_name": event}).encode())
        time.sleep(0.3)
    wait_events(store, 1)
    done = devtrace_here("events", "--path", str(store), "--json", "--limit", "1", cwd=repo)
    assert done.returncode == 0, done.stderr
    (event,) = json.loads(done.stdout)
    assert event["exit_code"] is None and event["captured_by"] == "codex"
    assert event["predicted_productivity"] is not None

"""Agent hooks: recorded payload samples fed to the real installed `devtrace hook record`,
and install/uninstall on settings files that already hold other hooks."""

import functools
import itertools
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.hook_support import files_containing, wait_events
from tests.support import devtrace, devtrace_env, rows

FIXTURES = Path(__file__).parent / "fixtures" / "agents"
SECRET = "sk-live-agent-passed-0xDEADBEEF"
EVENTS = {"claude-code": ("PostToolUse", "PostToolUseFailure"), "codex": ("PreToolUse", "PostToolUse"),
          "gemini": ("BeforeTool", "AfterTool")}
FILES = {"claude-code": ".claude/settings.json", "codex": ".codex/hooks.json", "gemini": ".gemini/settings.json"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def env_for(home: Path, **extra: str) -> dict:
    return devtrace_env(HOME=str(home), **extra)


@functools.cache
def installed_command(agent: str, home: Path, store: Path, event: str) -> str:
    """Install the hooks as a user would, and read back the command the agent would run."""
    done = devtrace("hook", "install", agent, "--path", str(store), cwd=home, env=env_for(home))
    assert done.returncode == 0, done.stderr
    settings = json.loads((home / FILES[agent]).read_text())
    return settings["hooks"][event][-1]["hooks"][0]["command"]


_CALLS = itertools.count()


def fire(agent: str, name: str, home: Path, store: Path, cwd: Path, command: str | None = None,
         call_id: str | None = None) -> subprocess.CompletedProcess:
    """What the agent does: run the installed hook command through a shell, payload on stdin."""
    payload = json.loads((FIXTURES / agent / f"{name}.json").read_text())
    payload["cwd"] = str(cwd)
    if agent == "claude-code":  # each fire is a new call (the event's id derives from the call's id)
        payload["tool_use_id"] = f"{payload.get('tool_use_id', 'toolu')}_{next(_CALLS)}"
    if call_id is not None:
        payload["tool_use_id"] = call_id
    if command is not None:
        payload["tool_input"]["command"] = command
    hook = installed_command(agent, home, store, payload["hook_event_name"])
    started = time.monotonic()
    done = subprocess.run(["sh", "-c", hook], input=json.dumps(payload).encode(), capture_output=True,
                          cwd=cwd, env=env_for(home), timeout=10)
    done.wall = time.monotonic() - started
    return done


def test_claude_code_says_exit_code_duration_timeout_and_interrupt(home, store, repo):
    for name in ("PostToolUse", "PostToolUseFailure", "PostToolUseFailure-timeout", "PostToolUseFailure-interrupt"):
        done = fire("claude-code", name, home, store, repo)
        assert (done.returncode, done.stdout) == (0, b"")
        wait_events(store, ["PostToolUse", "PostToolUseFailure", "PostToolUseFailure-timeout",
                            "PostToolUseFailure-interrupt"].index(name) + 1)
    events = rows(store, "SELECT * FROM command_events ORDER BY rowid")
    assert [(e["exit_code"], e["timed_out"], e["duration_ms"]) for e in events] == [
        (0, 0, 1234), (2, 0, 842), (None, 1, 2004), (130, 0, 5310)]
    assert {(e["agent_id"], e["author_kind"], e["captured_by"], e["duration_approximate"]) for e in events} == {
        ("claude-code", "agent", "claude-code", 0)}
    assert {e["session_id"] for e in events} == {"2f1c6a4e-8d0b-4c1e-9a57-3b2d9e6f0c11"}
    assert [e["program"] for e in events] == ["pytest", "pytest", "sleep", "npm"]
    assert events[0]["files_touched_count"] == 0 and events[0]["repo_id"] is not None


def test_codex_has_no_exit_code_and_a_duration_from_its_pair(home, store, repo):
    assert fire("codex", "PreToolUse", home, store, repo).returncode == 0
    time.sleep(0.3)
    assert fire("codex", "PostToolUse", home, store, repo).returncode == 0
    (event,) = wait_events(store, 1)
    assert event["exit_code"] is None and event["timed_out"] is None
    assert 300 <= event["duration_ms"] <= 5000 and event["duration_approximate"] == 1  # each hook's start, however busy
    assert (event["agent_id"], event["author_kind"], event["session_id"]) == (
        "codex", "agent", "0199a4b2-6c1d-7e3f-8a90-b1c2d3e4f506")
    fire("codex", "PostToolUse", home, store, repo, call_id="call_unpaired")  # a Post without its Pre: duration unknown
    assert wait_events(store, 2)[1]["duration_ms"] is None


def test_gemini_exit_code_from_its_text_and_duration_from_before_and_after(home, store, repo):
    fire("gemini", "BeforeTool", home, store, repo)
    time.sleep(0.3)
    fire("gemini", "AfterTool", home, store, repo)
    (event,) = wait_events(store, 1)
    assert (event["exit_code"], event["agent_id"], event["author_kind"]) == (1, "gemini", "agent")
    assert 300 <= event["duration_ms"] <= 5000 and event["duration_approximate"] == 1
    assert rows(store, "SELECT count(*) FROM hook_pending")[0][0] == 0


def test_one_hash_typed_wrapped_or_run_by_an_agent(home, store, repo):
    from tests.hook_support import Shell

    done = devtrace("run", "--keep-noop", "--quiet", "--path", str(store), "--", "sh", "-c", "exit 0", cwd=repo)
    assert done.returncode == 0
    fire("claude-code", "PostToolUse", home, store, repo, command="sh -c 'exit 0'")
    shell = Shell(home, "bash", store, repo)
    try:
        shell.type('sh   -c "exit 0"')
        events = wait_events(store, 3)
    finally:
        shell.close()
    assert sorted(e["captured_by"] for e in events) == ["bash", "claude-code", "run"]
    assert len({e["command_hash"] for e in events}) == 1


def test_a_secret_passed_by_an_agent_is_stored_nowhere(home, store, repo, tmp_path):
    fire("claude-code", "PostToolUse", home, store, repo, command=f"curl -H 'Authorization: {SECRET}' https://x")
    fire("codex", "PreToolUse", home, store, repo, command=f"export TOKEN={SECRET}")
    fire("codex", "PostToolUse", home, store, repo, command=f"export TOKEN={SECRET}")
    wait_events(store, 2)
    assert files_containing(store, SECRET.encode()) == []
    assert files_containing(home, SECRET.encode()) == []


@pytest.mark.parametrize("payload", [b"", b"{not json", b"[]", json.dumps({"tool_name": "Read"}).encode()])
def test_the_hook_exits_0_and_says_nothing_whatever_it_gets(payload, home, store, repo):
    done = subprocess.run(["sh", "-c", installed_command("claude-code", home, store, "PostToolUse")],
                          input=payload, capture_output=True, cwd=repo, env=env_for(home), timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    time.sleep(1)
    assert not (store / "devtrace.db").exists() or rows(store, "SELECT count(*) FROM command_events")[0][0] == 0


def test_a_locked_store_never_delays_the_agent(home, store, repo):
    import sqlite3

    fire("claude-code", "PostToolUse", home, store, repo)
    wait_events(store, 1)
    lock = sqlite3.connect(store / "devtrace.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    done = fire("claude-code", "PostToolUse", home, store, repo)
    assert done.returncode == 0 and done.wall < 2
    lock.execute("ROLLBACK")
    lock.close()
    wait_events(store, 2)


def test_a_killed_writer_loses_at_most_its_own_event(home, store, repo):
    import signal

    hook = installed_command("claude-code", home, store, "PostToolUse")
    payload = json.loads((FIXTURES / "claude-code" / "PostToolUse.json").read_text())
    payload["cwd"] = str(repo)
    fire("claude-code", "PostToolUse", home, store, repo)
    wait_events(store, 1)
    killed = 0
    for i in range(20):  # writers killed at different moments of their work
        writer = subprocess.Popen(["sh", "-c", f"exec {hook}"], stdin=subprocess.PIPE, cwd=repo, env=env_for(home))
        writer.stdin.write(json.dumps({**payload, "tool_use_id": f"toolu_killed_{i}"}).encode())
        writer.stdin.close()
        time.sleep(0.005 * i)
        hit = False
        for pid in _descendants_and(writer.pid):
            try:
                os.kill(pid, signal.SIGKILL)
                hit = True
            except ProcessLookupError:
                pass
        killed += hit
        writer.wait()
    time.sleep(3)
    count = rows(store, "SELECT count(*) FROM command_events")[0][0]
    assert 21 - killed <= count <= 21  # every writer not killed recorded its event
    assert rows(store, "PRAGMA integrity_check")[0][0] == "ok"
    fire("claude-code", "PostToolUse", home, store, repo)  # and the store takes the next one
    wait_events(store, count + 1)


def _descendants_and(pid: int) -> list[int]:
    """pid and the detached writer it forked (same process group is not guaranteed: by ppid)."""
    found, todo = [pid], [pid]
    while todo:
        parent = todo.pop()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == parent:
                            found.append(int(entry))
                            todo.append(int(entry))
                except (OSError, ValueError):
                    continue
    return found


# --- install, uninstall, status -----------------------------------------------------------

OTHER_SETTINGS = {
    "claude-code": '{\n  "model": "opus",\n  "hooks": {\n    "PostToolUse": [\n      {\n        "matcher": "Edit|Write",\n'
                   '        "hooks": [{"type": "command", "command": "prettier --write"}]\n      }\n    ],\n'
                   '    "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]\n  },\n'
                   '  "permissions": {"allow": ["Bash(npm test:*)"]}\n}\n',
    "codex": '{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}]}}\n',
    "gemini": '{\n    "ui": {"theme": "GitHub"},\n    "hooks": {\n        "BeforeTool": [\n            {\n'
              '                "matcher": "write_file",\n                "hooks": [{"name": "lint", "type": "command", "command": "eslint"}]\n'
              '            }\n        ]\n    }\n}\n',
}


@pytest.mark.parametrize("agent", ["claude-code", "codex", "gemini"])
def test_install_and_uninstall_keep_every_other_byte(agent, home, store):
    settings = home / FILES[agent]
    settings.parent.mkdir(parents=True)
    settings.write_text(OTHER_SETTINGS[agent])
    for _ in range(2):  # idempotent
        assert devtrace("hook", "install", agent, "--path", str(store), cwd=home, env=env_for(home)).returncode == 0
    installed = json.loads(settings.read_text())
    original = json.loads(OTHER_SETTINGS[agent])
    for event in EVENTS[agent]:
        ours = [g for g in installed["hooks"][event] if "devtrace.capture.hooks.record" in json.dumps(g)]
        assert len(ours) == 1
        assert [g for g in installed["hooks"][event] if g not in ours] == original["hooks"].get(event, [])
    status = json.loads(devtrace("hook", "status", "--json", cwd=home, env=env_for(home)).stdout)
    assert [r["events"] for r in status if r["agent"] == agent and r["scope"] == "user"] == [list(EVENTS[agent])]
    done = devtrace("hook", "uninstall", agent, cwd=home, env=env_for(home))
    assert done.returncode == 0
    assert settings.read_text() == OTHER_SETTINGS[agent]


def test_project_scope_writes_into_the_work_tree(home, repo, store):
    sub = repo / "src"
    sub.mkdir()
    done = devtrace("hook", "install", "claude-code", "--scope", "project", cwd=sub, env=env_for(home))
    assert done.returncode == 0, done.stderr
    assert "PostToolUseFailure" in json.loads((repo / ".claude" / "settings.json").read_text())["hooks"]
    assert not (home / ".claude").exists()


def test_a_settings_file_that_is_not_json_is_refused_and_left_untouched(home, store):
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"hooks": {,}\n')
    done = devtrace("hook", "install", "claude-code", cwd=home, env=env_for(home))
    assert done.returncode == 1
    assert done.stderr.decode().count("\n") == 1 and "not valid JSON" in done.stderr.decode()
    assert b"Traceback" not in done.stderr
    assert settings.read_text() == '{"hooks": {,}\n'


def test_the_agent_hook_program_is_fast(home, store, repo):
    """Not a benchmark (benchmarks/hooks.py measures it): a hook that blocked on the store or
    on git would take far longer than this."""
    walls = [fire("claude-code", "PostToolUse", home, store, repo).wall for _ in range(3)]
    assert min(walls) < 1.0

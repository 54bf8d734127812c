"""Agent hooks: recorded payload samples fed to the real installed `devtrace hook record`,
and install/uninstall on settings files that already hold other hooks."""

import functools
import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.hook_support import drainer_argv, files_containing, wait_events, wait_writers
from tests.support import devtrace, devtrace_env, devtrace_here, rows, wait_until

FIXTURES = Path(__file__).parent / "fixtures" / "agents"
SECRET = "sk-live-agent-passed-0xDEADBEEF"
EVENTS = {"claude-code": ("PreToolUse", "PostToolUse", "PostToolUseFailure", "Stop", "SessionEnd"),
          "codex": ("PreToolUse", "PostToolUse", "Stop"),
          "gemini": ("BeforeTool", "AfterTool", "SessionEnd")}
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
    done = devtrace_here("hook", "install", agent, "--path", str(store), cwd=home, env=env_for(home))
    assert done.returncode == 0, done.stderr
    settings = json.loads((home / FILES[agent]).read_text())
    return settings["hooks"][event][-1]["hooks"][0]["command"]


def fire(agent: str, name: str, home: Path, store: Path, cwd: Path, command: str | None = None,
         call: str | None = None) -> subprocess.CompletedProcess:
    """What the agent does: run the installed hook command through a shell, payload on stdin.
    The payloads are the real CLIs' (tests/fixtures/agents/README.md); their transcript is the
    fixture's own."""
    payload = json.loads((FIXTURES / agent / f"{name}.json").read_text())
    payload["cwd"] = str(cwd)
    if "transcript_path" in payload:
        payload["transcript_path"] = str(FIXTURES / agent / "transcript.jsonl")
    if command is not None:
        payload["tool_input"]["command"] = command
    if call is not None:  # another tool call (one call id is recorded once)
        payload["tool_use_id"] = call
    hook = installed_command(agent, home, store, EVENTS[agent][1])  # one command for every event
    started = time.monotonic()
    done = subprocess.run(["sh", "-c", hook], input=json.dumps(payload).encode(), capture_output=True,
                          cwd=cwd, env=env_for(home), timeout=10)
    done.wall = time.monotonic() - started
    return done


CLAUDE = {  # fixture: (exit_code, timed_out, duration_ms) as the store must say
    "PostToolUse": (0, 0, 26), "PostToolUse-no-matches": (1, 0, 19), "PostToolUseFailure": (3, 0, 19),
    "PostToolUseFailure-timeout": (124, 1, 1038), "PostToolUseFailure-sigterm": (143, 0, 31),
    "PostToolUseFailure-says-timeout": (1, 0, 30),
}


@pytest.mark.parametrize("name", list(CLAUDE))
def test_claude_code_exit_code_timeout_and_duration(name, home, store, repo):
    """Claude Code 2.1.197's payloads: exit 1 said by returnCodeInterpretation, a timeout only
    when the duration reached the stated timeout, a SIGTERM kill 143."""
    expected = json.loads((FIXTURES / "claude-code" / f"{name}.json").read_text())["duration_ms"]
    done = fire("claude-code", name, home, store, repo)
    assert (done.returncode, done.stdout) == (0, b"")
    (event,) = wait_events(store, 1)
    assert (event["exit_code"], event["timed_out"], event["duration_ms"]) == CLAUDE[name][:2] + (expected,)
    assert (event["agent_id"], event["author_kind"], event["captured_by"], event["duration_approximate"]) == (
        "claude-code", "agent", "claude-code", 0)
    assert event["repo_id"] is not None


def test_claude_code_cd_home_is_filed_in_that_folder(home, store, repo, tmp_path):
    elsewhere = home / "elsewhere"
    elsewhere.mkdir()
    fire("claude-code", "PostToolUse-cd-home", home, store, repo)
    (event,) = wait_events(store, 1)
    assert event["repo_id"] is None  # ~/elsewhere is not a repository; the payload's cwd (repo) is


def test_claude_code_pre_and_stop_record_nothing_by_themselves(home, store, repo):
    """A Stop with no call pending, then a PreToolUse whose call is still running: no event.
    (A Stop after that Pre records the call: test_a_claude_call_without_its_post_is_recorded_at_stop.
    This test fired Pre then Stop and slept 1 s: it passed only while the Stop's writer was slower.)"""
    for name in ("Stop", "PreToolUse"):
        assert fire("claude-code", name, home, store, repo).returncode == 0
        wait_writers(store, time.monotonic() + 60)  # its detached writer has ended: it recorded all it ever will
    assert not (store / "devtrace.db").exists() or rows(store, "SELECT count(*) FROM command_events")[0][0] == 0


def test_codex_exit_code_from_the_transcript_and_duration_from_its_pair(home, store, repo):
    assert fire("codex", "PreToolUse", home, store, repo).returncode == 0
    time.sleep(0.3)
    assert fire("codex", "PostToolUse", home, store, repo).returncode == 0
    (event,) = wait_events(store, 1)
    assert (event["exit_code"], event["timed_out"]) == (3, 0)
    assert 300 <= event["duration_ms"] <= 5000 and event["duration_approximate"] == 1  # each hook's start, however busy
    payload = json.loads((FIXTURES / "codex" / "PostToolUse.json").read_text())
    assert (event["agent_id"], event["author_kind"], event["session_id"]) == ("codex", "agent", payload["session_id"])
    fire("codex", "PostToolUse", home, store, repo, call="call_x")  # a Post without its Pre: duration unknown
    assert wait_events(store, 2)[1]["duration_ms"] is None


def test_codex_without_its_transcript_has_no_exit_code(home, store, repo, tmp_path):
    payload = json.loads((FIXTURES / "codex" / "PostToolUse.json").read_text())
    payload.update(cwd=str(repo), transcript_path=str(tmp_path / "gone.jsonl"))
    hook = installed_command("codex", home, store, "PostToolUse")
    subprocess.run(["sh", "-c", hook], input=json.dumps(payload).encode(), cwd=repo, env=env_for(home), timeout=10)
    (event,) = wait_events(store, 1)
    assert (event["exit_code"], event["timed_out"]) == (None, None)


GEMINI = {"AfterTool": 3, "AfterTool-output-says-exit-code": 0, "AfterTool-output-says-exit-0": 2,
          "AfterTool-output-then-exit": 2, "AfterTool-signal": 137}


@pytest.mark.parametrize("name", list(GEMINI))
def test_gemini_exit_code_from_its_own_lines_not_the_output(name, home, store, repo):
    fire("gemini", name, home, store, repo)
    (event,) = wait_events(store, 1)
    assert (event["exit_code"], event["timed_out"], event["agent_id"], event["author_kind"]) == (
        GEMINI[name], 0, "gemini", "agent")


def test_gemini_duration_from_its_own_timestamps(home, store, repo):
    before = json.loads((FIXTURES / "gemini" / "BeforeTool.json").read_text())
    after = json.loads((FIXTURES / "gemini" / "AfterTool.json").read_text())
    from datetime import datetime

    took = round((datetime.fromisoformat(after["timestamp"].replace("Z", "+00:00"))
                  - datetime.fromisoformat(before["timestamp"].replace("Z", "+00:00"))).total_seconds() * 1000)
    fire("gemini", "BeforeTool", home, store, repo)
    time.sleep(0.3)  # the hook's own delay is not the command's
    fire("gemini", "AfterTool", home, store, repo)
    (event,) = wait_events(store, 1)
    assert (event["exit_code"], event["duration_ms"], event["duration_approximate"]) == (3, took, 1)
    assert rows(store, "SELECT count(*) FROM hook_pending WHERE call_key NOT LIKE 'recorded:%'")[0][0] == 0


def test_gemini_dir_path_is_where_the_command_ran(home, store, repo, tmp_path):
    fire("gemini", "AfterTool", home, store, tmp_path)
    payload = json.loads((FIXTURES / "gemini" / "AfterTool-dir-path.json").read_text())
    payload["cwd"], payload["tool_input"]["dir_path"] = str(tmp_path), str(repo)
    hook = installed_command("gemini", home, store, "AfterTool")
    subprocess.run(["sh", "-c", hook], input=json.dumps(payload).encode(), cwd=tmp_path, env=env_for(home), timeout=10)
    first, second = wait_events(store, 2)
    assert first["repo_id"] is None and second["repo_id"] is not None


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


def test_one_tool_call_reported_twice_is_recorded_once(home, store, repo):
    """Issue 20, item 20: two of DevTrace's entries (two scopes, two paths) for one call."""
    fire("claude-code", "PostToolUse", home, store, repo)
    fire("claude-code", "PostToolUse", home, store, repo)
    wait_events(store, 1)


def test_a_secret_passed_by_an_agent_is_stored_nowhere(home, store, repo, tmp_path):
    fire("claude-code", "PostToolUse", home, store, repo, command=f"curl -H 'Authorization: {SECRET}' https://x")
    fire("codex", "PreToolUse", home, store, repo, command=f"export TOKEN={SECRET}")
    fire("codex", "PostToolUse", home, store, repo, command=f"export TOKEN={SECRET}")
    fire("gemini", "AfterTool", home, store, repo, command=f"export TOKEN={SECRET}")
    wait_events(store, 3)
    assert files_containing(store, SECRET.encode()) == []
    assert files_containing(home, SECRET.encode()) == []


@pytest.mark.parametrize("payload", [b"", b"{not json", b"[]", json.dumps({"tool_name": "Read"}).encode()])
def test_the_hook_exits_0_and_says_nothing_whatever_it_gets(payload, home, store, repo):
    done = subprocess.run(["sh", "-c", installed_command("claude-code", home, store, "PostToolUse")],
                          input=payload, capture_output=True, cwd=repo, env=env_for(home), timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    wait_writers(store, time.monotonic() + 60)  # its detached writer has ended: it recorded all it ever will
    assert not (store / "devtrace.db").exists() or rows(store, "SELECT count(*) FROM command_events")[0][0] == 0
    fire("claude-code", "PostToolUse", home, store, repo)  # the same hook, given a command, records it
    (event,) = wait_events(store, 1)
    assert (event["captured_by"], event["exit_code"]) == ("claude-code", 0)


def test_a_locked_store_never_delays_the_agent(home, store, repo):
    import sqlite3

    fire("claude-code", "PostToolUse", home, store, repo)
    wait_events(store, 1)
    lock = sqlite3.connect(store / "devtrace.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    done = fire("claude-code", "PostToolUse", home, store, repo, call="toolu_2")
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
        writer = subprocess.Popen(["sh", "-c", hook], stdin=subprocess.PIPE, cwd=repo, env=env_for(home))
        writer.stdin.write(json.dumps({**payload, "tool_use_id": f"toolu_{i}"}).encode())
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
    wait_writers(store, time.monotonic() + 60)
    count = rows(store, "SELECT count(*) FROM command_events")[0][0]
    assert 21 - killed <= count <= 21  # every writer not killed recorded its event
    assert rows(store, "PRAGMA integrity_check")[0][0] == "ok"
    fire("claude-code", "PostToolUse", home, store, repo, call="toolu_next")  # and the store takes the next one
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
        assert devtrace_here("hook", "install", agent, "--path", str(store), cwd=home, env=env_for(home)).returncode == 0
    installed = json.loads(settings.read_text())
    original = json.loads(OTHER_SETTINGS[agent])
    for event in EVENTS[agent]:
        ours = [g for g in installed["hooks"][event] if "devtrace/capture/hooks/agent.sh" in json.dumps(g)]
        assert len(ours) == 1
        assert [g for g in installed["hooks"][event] if g not in ours] == original["hooks"].get(event, [])
    status = json.loads(devtrace_here("hook", "status", "--json", cwd=home, env=env_for(home)).stdout)
    assert [r["events"] for r in status if r["agent"] == agent and r["scope"] == "user"] == [list(EVENTS[agent])]
    done = devtrace_here("hook", "uninstall", agent, cwd=home, env=env_for(home))
    assert done.returncode == 0
    assert settings.read_text() == OTHER_SETTINGS[agent]


def test_project_scope_writes_into_the_work_tree(home, repo, store):
    sub = repo / "src"
    sub.mkdir()
    done = devtrace_here("hook", "install", "claude-code", "--scope", "project", cwd=sub, env=env_for(home))
    assert done.returncode == 0, done.stderr
    assert "PostToolUseFailure" in json.loads((repo / ".claude" / "settings.json").read_text())["hooks"]
    assert not (home / ".claude").exists()


def test_a_settings_file_that_is_not_json_is_refused_and_left_untouched(home, store):
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"hooks": {,}\n')
    done = devtrace_here("hook", "install", "claude-code", cwd=home, env=env_for(home))
    assert done.returncode == 1
    assert done.stderr.decode().count("\n") == 1 and "not valid JSON" in done.stderr.decode()
    assert b"Traceback" not in done.stderr
    assert settings.read_text() == '{"hooks": {,}\n'


def test_the_agent_hook_program_is_fast(home, store, repo):
    """Not a benchmark (benchmarks/hooks.py measures it): a hook that blocked on the store or
    on git would take far longer than this."""
    walls = [fire("claude-code", "PostToolUse", home, store, repo).wall for _ in range(3)]
    assert min(walls) < 1.0


def test_gemini_settings_with_hooks_enabled_are_accepted(home, store):
    """Issue 20, item 19: `"hooks": {"enabled": true}` is valid in Gemini CLI 0.61."""
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"hooks": {"enabled": true}}\n')
    done = devtrace("hook", "install", "gemini", "--path", str(store), cwd=home, env=env_for(home))
    assert done.returncode == 0, done.stderr
    installed = json.loads(settings.read_text())
    assert installed["hooks"]["enabled"] is True and installed["hooks"]["AfterTool"][0]["hooks"][0]["name"] == "DevTrace"
    assert devtrace("hook", "uninstall", "gemini", cwd=home, env=env_for(home)).returncode == 0
    assert settings.read_text() == '{"hooks": {"enabled": true}}\n'


def test_a_settings_file_with_a_bom_is_hooked_and_given_back(home, store):
    """Issue 20, item 22: the agents read a UTF-8 BOM; DevTrace keeps it."""
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    text = '\ufeff{\n  "model": "opus"\n}\n'
    settings.write_text(text, encoding="utf-8")
    assert devtrace("hook", "install", "claude-code", "--path", str(store), cwd=home, env=env_for(home)).returncode == 0
    assert settings.read_text(encoding="utf-8").startswith('\ufeff{\n  "model": "opus",\n  "hooks"')
    assert devtrace("hook", "uninstall", "claude-code", cwd=home, env=env_for(home)).returncode == 0
    assert settings.read_text(encoding="utf-8") == text


def test_uninstall_removes_what_install_created(home, store, repo):
    """Issue 20, item 22: no `{}` file, no untracked .claude/ left in the repository."""
    env = env_for(home)
    assert devtrace("hook", "install", "claude-code", "--scope", "project", cwd=repo, env=env).returncode == 0
    assert devtrace("hook", "uninstall", "claude-code", "--scope", "project", cwd=repo, env=env).returncode == 0
    assert not (repo / ".claude").exists()


def test_codex_home_is_where_the_hooks_go(home, store, tmp_path):
    """Issue 20, item 10: Codex reads $CODEX_HOME/hooks.json."""
    env = env_for(home, CODEX_HOME=str(tmp_path / "codex-home"))
    done = devtrace("hook", "install", "codex", "--path", str(store), cwd=home, env=env)
    assert done.returncode == 0 and (tmp_path / "codex-home" / "hooks.json").exists() and not (home / ".codex").exists()
    assert "not trusted" in done.stdout.decode() and "/hooks" in done.stdout.decode()  # issue 20, item 7
    rows = json.loads(devtrace("hook", "status", "--json", cwd=home, env=env).stdout)
    (codex,) = [r for r in rows if r["agent"] == "codex" and r["scope"] == "user"]
    assert (codex["file"], codex["trust"]) == (str(tmp_path / "codex-home" / "hooks.json"), "not trusted")


def test_status_warns_of_two_scopes_and_of_a_gone_interpreter(home, store, repo):
    """Issue 20, items 20 and 21."""
    env = env_for(home)
    for scope in ("user", "project"):
        assert devtrace("hook", "install", "claude-code", "--scope", scope, cwd=repo, env=env).returncode == 0
    text = devtrace("hook", "status", cwd=repo, env=env).stdout.decode()
    assert text.count("installed at both user and project scope") == 2
    settings = home / ".claude" / "settings.json"
    settings.write_text(settings.read_text().replace(json.dumps(sys.executable)[1:-1], "/gone/python3"))
    text = devtrace("hook", "status", cwd=repo, env=env).stdout.decode()
    assert "interpreter the hook runs is gone (/gone/python3)" in text


def test_doctor_says_codex_skips_an_untrusted_hook(home, store, tmp_path):
    """Issue 20, item 7: `doctor` too."""
    env = env_for(home, CODEX_HOME=str(tmp_path / "codex-home"))
    assert devtrace("hook", "install", "codex", "--path", str(store), cwd=home, env=env).returncode == 0
    done = devtrace("doctor", "--path", str(store), cwd=home, env=env)
    assert done.returncode == 1 and "Codex skips it" in done.stdout.decode()


def test_status_says_when_gemini_does_not_trust_the_folder(home, store, repo):
    """Issue 20, item 19: Gemini CLI 0.61 runs no hook in a folder it does not trust (headless
    `gemini -p` there refuses to start: checked in tests/agents)."""
    env = env_for(home)
    assert devtrace("hook", "install", "gemini", "--path", str(store), cwd=repo, env=env).returncode == 0
    text = devtrace("hook", "status", cwd=repo, env=env).stdout.decode()
    assert "not one Gemini CLI trusts" in text
    (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(repo.parent): "TRUST_FOLDER"}))
    assert "not one Gemini CLI trusts" not in devtrace("hook", "status", cwd=repo, env=env).stdout.decode()
    (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(repo.parent): "TRUST_FOLDER",
                                                                       str(repo): "DO_NOT_TRUST"}))
    assert "not one Gemini CLI trusts" in devtrace("hook", "status", cwd=repo, env=env).stdout.decode()


def test_a_claude_call_without_its_post_is_recorded_at_stop(home, store, repo):
    """Issue 20, item 4, on Claude Code 2.1.197's payloads: PreToolUse, no PostToolUse (an
    interrupt or a rejection), then Stop: one event, 130, timed to its result in the transcript."""
    assert fire("claude-code", "PreToolUse", home, store, repo).returncode == 0
    time.sleep(0.5)
    assert fire("claude-code", "Stop", home, store, repo).returncode == 0
    (event,) = wait_events(store, 1)
    assert (event["exit_code"], event["timed_out"], event["duration_approximate"], event["program"]) == (130, 0, 1, "true")
    assert event["duration_ms"] is not None and event["repo_id"] is not None
    fire("claude-code", "Stop", home, store, repo)  # again: nothing left to resolve
    assert len(wait_events(store, 1)) == 1  # once its writer has ended


# --- the drainer takes the agent hooks' records in the order the agent called the hooks ----

POST_MS = json.loads((FIXTURES / "claude-code" / "PostToolUse.json").read_text())["duration_ms"]


def spooled(store: Path, agent: str, name: str, cwd: Path, arrived_at: float, tag: str, **fields) -> None:
    """One agent record in the spool as agent.sh leaves it (the payload as the CLI sent it,
    with `fields` replaced), arrived at `arrived_at` (its modification time)."""
    from devtrace.capture import spool

    payload = json.loads((FIXTURES / agent / f"{name}.json").read_text())
    payload["cwd"] = str(cwd)
    if "transcript_path" in payload:
        payload["transcript_path"] = str(FIXTURES / agent / "transcript.jsonl")
    payload.update(fields)
    store.mkdir(exist_ok=True)
    path = spool.write(str(store), f"agent.{tag}", "agent", [agent], json.dumps(payload).encode())
    os.utime(path, (arrived_at, arrived_at))


def drain_once(store: Path, repo: Path, **env: str) -> None:
    done = subprocess.run([sys.executable, "-m", "devtrace.capture.drainer", "--path", str(store), "--once"],
                          cwd=repo, env=devtrace_env(**env), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_an_end_that_arrives_after_the_turns_end_keeps_its_exact_exit(store, repo):
    """Issue 20, the race of a Post after Stop: PreToolUse, Stop, then the PostToolUse 0.3 s
    after the Stop, all taken by a drainer started only later. The Post's exact outcome (exit
    0 in Claude's own duration_ms) is stored, not the orphan's interrupt (130)."""
    t0 = time.time() - 30
    spooled(store, "claude-code", "PreToolUse", repo, t0, "1")
    spooled(store, "claude-code", "Stop", repo, t0 + 0.5, "2")
    spooled(store, "claude-code", "PostToolUse", repo, t0 + 0.8, "3")
    drain_once(store, repo)
    (event,) = rows(store, "SELECT exit_code, timed_out, duration_ms, duration_approximate FROM command_events")
    assert tuple(event) == (0, 0, POST_MS, 0)
    assert rows(store, "SELECT count(*) FROM hook_pending WHERE call_key NOT LIKE 'recorded:%'")[0][0] == 0


def test_an_end_later_than_the_grace_is_left_to_the_turns_end(store, repo):
    """The limit of the above: an end that arrives more than TURN_END_GRACE_S (1 s) after the
    turn's end comes too late, the turn's end has resolved its start (an interrupt, 130), and
    the call is recorded once. (No agent does this: each waits for its Post hooks before the
    turn ends.)"""
    t0 = time.time() - 30
    spooled(store, "claude-code", "PreToolUse", repo, t0, "1")
    spooled(store, "claude-code", "Stop", repo, t0 + 0.5, "2")
    spooled(store, "claude-code", "PostToolUse", repo, t0 + 2.0, "3")
    drain_once(store, repo)
    assert [tuple(r) for r in rows(store, "SELECT exit_code FROM command_events")] == [(130,)]


def test_a_sandboxed_codex_call_waits_for_its_result_in_the_transcript(store, repo, tmp_path):
    """Codex 0.171.0 in its read-only sandbox fires PostToolUse before it writes the call's
    `function_call_output`, the only place its exit is (fixture transcript-sandbox.jsonl: 2 ms
    later); a CI run's drainer read the transcript in between and stored the exit as unknown.
    The Post waits for its result while the transcript holds the call without it, and for
    OUTCOME_GRACE_S at most: a result that never comes leaves the exit unknown."""
    from devtrace.capture import spool
    from devtrace.capture.hooks import agent_records

    lines = (FIXTURES / "codex" / "transcript-sandbox.jsonl").read_text().splitlines(keepends=True)
    result = next(i for i, line in enumerate(lines) if '"function_call_output"' in line and '"call_0_0"' in line)
    rollout = tmp_path / "rollout.jsonl"
    rollout.write_text("".join(lines[:result]))
    calls = {"call_0_0": "echo blocked > inside.txt", "call_1_0": "cat a.txt"}
    ahead = time.time() + 600  # arrived "just now" however slowly this machine starts the drainer
    for tag, (call, command) in enumerate(calls.items()):
        spooled(store, "codex", "PreToolUse", repo, ahead, f"{tag}a", transcript_path=str(rollout), tool_use_id=call,
                tool_input={"command": command})
        spooled(store, "codex", "PostToolUse", repo, ahead, f"{tag}b", transcript_path=str(rollout), tool_use_id=call,
                tool_input={"command": command})
    drain_once(store, repo)  # call_0_0's Post waits, and call_1_0's with it (nor is call_1_0 in the rollout)
    with closing(sqlite3.connect(store / "devtrace.db")) as conn:  # not rows(): it waits for an empty spool
        assert conn.execute("SELECT program, exit_code FROM command_events").fetchall() == []
    with rollout.open("a") as f:
        f.write(lines[result])
    drain_once(store, repo)
    assert [tuple(r) for r in rows(store, "SELECT program, exit_code FROM command_events ORDER BY program")] == [
        ("cat", None), ("echo", 1)]
    spooled(store, "codex", "PreToolUse", repo, time.time() - 5, "2a", transcript_path=str(rollout),
            tool_use_id="call_2_0", tool_input={"command": "sh -c 'exit 5'"})
    spooled(store, "codex", "PostToolUse", repo, time.time() - 5, "2b", transcript_path=str(rollout),
            tool_use_id="call_2_0", tool_input={"command": "sh -c 'exit 5'"})
    lines_2 = [line for line in lines if '"call_2_0"' in line and '"function_call"' in line]
    with rollout.open("a") as f:  # the call, and never its result
        f.write(lines_2[0])
    (name,) = [n for n in spool.pending(str(store)) if n.startswith("agent.2b")]
    post = spool.read(str(store), name)
    assert agent_records.awaits_outcome(post, post.mtime + agent_records.OUTCOME_GRACE_S - 0.05)
    assert not agent_records.awaits_outcome(post, post.mtime + agent_records.OUTCOME_GRACE_S)
    drain_once(store, repo)
    assert rows(store, "SELECT exit_code FROM command_events WHERE program = 'sh'")[0][0] is None


def test_a_codex_end_that_breaks_the_outcome_check_never_stops_the_drainer(store, repo, tmp_path):
    """A transcript path Python cannot open (a NUL byte) raised out of the check, past the
    drainer's error handling (a review found it); a FIFO would have held the drainer."""
    os.mkfifo(tmp_path / "fifo")
    for tag, path in (("1", "/tmp/a\u0000b"), ("2", str(tmp_path / "fifo"))):
        call = f"call_{tag}"
        spooled(store, "codex", "PreToolUse", repo, time.time(), f"{tag}a", transcript_path=path, tool_use_id=call)
        spooled(store, "codex", "PostToolUse", repo, time.time(), f"{tag}b", transcript_path=path, tool_use_id=call)
    drain_once(store, repo)
    assert [tuple(r) for r in rows(store, "SELECT exit_code FROM command_events")] == [(None,), (None,)]


SIGINT_RESULT = (  # what `claude -p` 2.1.197 given SIGINT during `sleep 10` wrote (tests/agents/test_interrupts.py)
    '{"parentUuid":"1bf187b4","isSidechain":false,"type":"user","message":{"role":"user","content":[{"type":'
    '"tool_result","content":"The user doesn\'t want to proceed with this tool use. The tool use was rejected (eg. if'
    ' it was a file edit, the new_string was NOT written to the file). STOP what you are doing and wait for the user'
    ' to tell you how to proceed.","is_error":true,"tool_use_id":"CALL"}]},"uuid":"aedf32a5","timestamp":"WHEN",'
    '"toolUseResult":"User rejected tool use","sessionId":"SESSION","version":"2.1.197"}\n'
    '{"parentUuid":"aedf32a5","isSidechain":false,"type":"user","message":{"role":"user","content":[{"type":"text",'
    '"text":"[Request interrupted by user for tool use]"}]},"uuid":"24a92236","timestamp":"WHEN","sessionId":"SESSION"}\n')


@pytest.mark.parametrize("transcript", [True, False], ids=["its transcript found", "no transcript"])
def test_a_start_whose_session_never_ended_is_written_once_at_its_deadline(store, repo, home, transcript):
    """`claude -p` interrupted by SIGINT during a command (Claude Code 2.1.197, through the real
    CLI in tests/agents/test_interrupts.py) fires no PostToolUse, no Stop, no SessionEnd: its
    start waits for an end that never comes. A day after it started (PENDING_MAX_AGE_S), the
    next agent record writes it once, as its session's transcript says (130, timed to the
    interrupted result), or with its end unknown (NULL) without one, rather than dropping it."""
    from datetime import UTC, datetime

    from devtrace.store.hook_state import PENDING_MAX_AGE_S

    t0 = float(int(time.time() - PENDING_MAX_AGE_S - 60))  # whole seconds: the transcript's stamps are in ms
    pre = json.loads((FIXTURES / "claude-code" / "PreToolUse.json").read_text())
    if transcript:
        folder = home / ".claude" / "projects" / "-some-project"
        folder.mkdir(parents=True)
        when = datetime.fromtimestamp(t0 + 3.2, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        (folder / f"{pre['session_id']}.jsonl").write_text(
            SIGINT_RESULT.replace("CALL", pre["tool_use_id"]).replace("SESSION", pre["session_id"]).replace("WHEN", when))
    spooled(store, "claude-code", "PreToolUse", repo, t0, "1")
    drain_once(store, repo, HOME=str(home))
    assert rows(store, "SELECT count(*) FROM command_events")[0][0] == 0
    spooled(store, "claude-code", "PreToolUse", repo, time.time() - 5, "2", session_id="a-later-session",
            tool_use_id="toolu_later")
    drain_once(store, repo, HOME=str(home))
    drain_once(store, repo, HOME=str(home))  # again: written once
    (event,) = rows(store, "SELECT exit_code, timed_out, duration_ms, duration_approximate, program, repo_id,"
                           " started_at FROM command_events")
    expected = (130, 0, 3200, 1) if transcript else (None, None, None, 0)
    assert tuple(event)[:5] == (*expected, "true") and event["repo_id"] is not None
    assert abs(event["started_at"] - t0) < 0.01
    assert [tuple(r) for r in rows(store, "SELECT session_id FROM hook_pending WHERE call_key NOT LIKE 'recorded:%'")] \
        == [("a-later-session",)]


def test_a_turns_end_waits_for_the_ends_of_its_grace(home, store, repo):
    """The live path: a Stop whose Post comes 0.3 s after it, both through the installed hook
    with the drainer running: the drainer holds the Stop back, the Post's exit is stored. The
    drainer's grace is 5 s here, not 1 s: a loaded machine may take longer than 0.7 s to start
    the Post's hook (the limit itself is the test above's)."""
    from devtrace.capture import drainer

    store.mkdir()
    command = drainer_argv(store, "from devtrace.capture.hooks import agent_records; agent_records.TURN_END_GRACE_S = 5.0")
    running = subprocess.Popen(command, env=env_for(home))
    try:
        wait_until(lambda: drainer.alive(str(store)), "the drainer started")
        fire("claude-code", "PreToolUse", home, store, repo)
        fire("claude-code", "Stop", home, store, repo)
        time.sleep(0.3)
        fire("claude-code", "PostToolUse", home, store, repo)
        (event,) = wait_events(store, 1)
    finally:
        running.terminate()
        running.wait(timeout=60)
    assert (event["exit_code"], event["duration_ms"], event["duration_approximate"]) == (0, POST_MS, 0)


def test_the_hook_starts_no_interpreter_while_a_drainer_is_alive(home, store, repo, tmp_path):
    """Issue 20, cost: the hook is POSIX sh; the drainer's interpreter starts only when no
    drainer is alive (the pid file names a live `devtrace-drain`)."""
    started = tmp_path / "interpreter-started"
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho x >> {started}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    hook = installed_command("claude-code", home, store, "PostToolUse").replace(sys.executable, str(wrapper))
    payload = json.loads((FIXTURES / "claude-code" / "PostToolUse.json").read_text())
    for i in range(6):  # the drainer stays alive for a while after its last record
        payload.update(cwd=str(repo), tool_use_id=f"toolu_{i}")
        done = subprocess.run(["sh", "-c", hook], input=json.dumps(payload).encode(), capture_output=True, cwd=repo,
                              env=env_for(home), timeout=10)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
        wait_events(store, i + 1)
    assert started.read_text() == "x\n"


OLD_COMMAND = ('{python} -I -S -c \'import sys; sys.path.insert(0, "{root}"); from devtrace.capture.hooks.record import'
               ' main; main(sys.argv[1:])\' {agent} --path {store}')


def test_an_entry_of_the_python_hook_is_recognised_replaced_and_still_records(home, store, repo):
    """Upgrading: the entry an earlier DevTrace installed (a Python command line) is DevTrace's
    for status and uninstall, install replaces it, and until then it records through the spool."""
    from tests.support import CHECKOUT

    old = OLD_COMMAND.format(python=sys.executable, root=CHECKOUT, agent="claude-code", store=store)
    settings = home / FILES["claude-code"]
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"hooks": {"PostToolUse": [{"matcher": "Bash", "hooks": [
        {"type": "command", "command": old}]}]}}, indent=2))
    payload = json.loads((FIXTURES / "claude-code" / "PostToolUse.json").read_text())
    payload["cwd"] = str(repo)
    done = subprocess.run(["sh", "-c", old], input=json.dumps(payload).encode(), capture_output=True, cwd=repo,
                          env=env_for(home), timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    (event,) = wait_events(store, 1)
    assert (event["captured_by"], event["exit_code"]) == ("claude-code", 0)
    rows_ = json.loads(devtrace("hook", "status", "--json", cwd=home, env=env_for(home)).stdout)
    (claude,) = [r for r in rows_ if r["agent"] == "claude-code" and r["scope"] == "user"]
    assert claude["events"] == ["PostToolUse"]
    assert devtrace("hook", "install", "claude-code", "--path", str(store), cwd=home, env=env_for(home)).returncode == 0
    commands = [h["command"] for groups in json.loads(settings.read_text())["hooks"].values() for g in groups
                for h in g["hooks"]]
    assert len(commands) == 5 and all("hooks/agent.sh claude-code" in c for c in commands)
    assert devtrace("hook", "uninstall", "claude-code", cwd=home, env=env_for(home)).returncode == 0
    assert not settings.exists()


@pytest.mark.parametrize("agent", ["claude-code", "codex"])
def test_the_drainer_stores_the_sessions_tokens_as_an_import_does(agent, home, store, repo, tmp_path):
    """Issue 25 (tokens from the live drainer): a turn's end through the installed hook, and
    the drainer's row of the session's usage is the one `devtrace import` makes of the same
    transcript (one reader for both)."""
    fire(agent, "Stop", home, store, repo)
    wait_writers(store, time.monotonic() + 60)
    other = tmp_path / "imported"
    done = devtrace("import", agent, str(FIXTURES / agent / "transcript.jsonl"), "--path", str(other), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    usage = ("SELECT agent, session_id, model, started_at, ended_at, turns, tool_calls, requests, input_tokens,"
             " output_tokens, cache_read_tokens, cache_write_tokens FROM agent_session_usage ORDER BY model")
    live = [tuple(r) for r in rows(store, usage)]
    assert live and live == [tuple(r) for r in rows(other, usage)]
    assert any(r[8] > 0 for r in live)


def test_installed_without_a_path_the_hook_follows_devtrace_path(home, store, repo):
    """No --path at install: the sh hook writes where $DEVTRACE_PATH points when the agent runs
    it (relative to the agent's folder if relative), as the Python hook did."""
    assert devtrace("hook", "install", "claude-code", cwd=home, env=env_for(home)).returncode == 0
    hook = json.loads((home / FILES["claude-code"]).read_text())["hooks"]["PostToolUse"][-1]["hooks"][0]["command"]
    payload = json.loads((FIXTURES / "claude-code" / "PostToolUse.json").read_text())
    payload["cwd"] = str(repo)
    done = subprocess.run(["sh", "-c", hook], input=json.dumps(payload).encode(), capture_output=True, cwd=store.parent,
                          env=env_for(home, DEVTRACE_PATH=store.name), timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    (event,) = wait_events(store, 1)
    assert event["exit_code"] == 0 and not (home / ".devtrace").exists()

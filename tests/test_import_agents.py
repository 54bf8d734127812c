"""`devtrace import claude-code|codex|gemini` on the transcripts the real agent CLIs wrote
(tests/fixtures/agents/README.md): each shell call with its exit code (the hooks' rules),
duration, session and model; exactly once, also with the live hook; the agent_sessions view
and its prices; damaged lines."""

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

from devtrace.analytics import connect, query
from tests.hook_support import wait_events
from tests.support import devtrace, devtrace_env, rows

AGENTS = Path(__file__).parent / "fixtures" / "agents"
CLAUDE_EXITS = [0, 1, 3, 0, 124, 0, 2, 1, 1, 1, 1, 1, 1, 143, 137, 0, 0, 0, 0, 0, 0, 0]
CODEX_EXITS = [0, 1, 3, 0, 0, 2, 1, 143, 137, 0, 0, 0, 0, 0, 0, 0]
GEMINI_EXITS = [0, 1, 3, 0, None, 2, 0, 2, 0, 143, 137, 0, 0, 0, 0, 0, 0]


def imported(store: Path, agent: str, *files, env: dict | None = None, extra=()) -> dict:
    done = devtrace("import", agent, *map(str, files), *extra, "--path", str(store), "--json", cwd=store.parent,
                    env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    return json.loads(done.stdout)


def events(store: Path) -> list:
    return rows(store, "SELECT * FROM command_events ORDER BY executed_at, rowid")


def transcript(agent: str) -> Path:
    return AGENTS / agent / "transcript.jsonl"


def test_claude_code_calls_exit_codes_durations_and_session(tmp_path):
    store = tmp_path / "store"
    first = imported(store, "claude-code", transcript("claude-code"))
    assert (first["read"], first["added"], first["damaged"], first["sessions"]) == (22, 22, 0, 1)
    found = events(store)
    assert [e["exit_code"] for e in found] == CLAUDE_EXITS
    timed_out = [e for e in found if e["timed_out"]]
    assert [e["program"] for e in timed_out] == ["sleep"]  # `sleep 5` at a 1 s timeout: 124, as the hook says
    assert {e["session_id"] for e in found} == {"3debe67a-53e5-4421-80df-80ed89cd098c"}
    assert {(e["agent_id"], e["author_kind"], e["captured_by"]) for e in found} == {
        ("claude-code", "agent", "import-claude-code")}
    sleep = next(e for e in found if e["program"] == "sleep" and e["exit_code"] == 0)
    assert 1200 <= sleep["duration_ms"] <= 3000 and sleep["duration_approximate"] == 1  # `sleep 1.2`, from timestamps
    assert {e["files_touched_count"] for e in found} == {None}
    assert [e["command_text"] for e in found][:3] == ["true", "false", "sh -c 'exit 3'"]
    again = imported(store, "claude-code", transcript("claude-code"))
    assert (again["added"], again["present"]) == (0, 22)


def test_codex_exact_exit_codes_and_durations_from_its_timestamps(tmp_path):
    store = tmp_path / "store"
    assert imported(store, "codex", transcript("codex"))["added"] == 16
    found = events(store)
    assert [e["exit_code"] for e in found] == CODEX_EXITS
    sleep = next(e for e in found if e["program"] == "sleep")
    # from the call to its completion: Codex's own `duration` (1,069 ms for `sleep 1.2`) is not used
    assert 1200 <= sleep["duration_ms"] <= 3000 and sleep["duration_approximate"] == 1
    assert {e["session_id"] for e in found} == {"01a24a3b-5457-7041-8946-9fbc2622254d"}


def test_gemini_calls_and_exit_codes_from_its_own_lines(tmp_path):
    store = tmp_path / "store"
    assert imported(store, "gemini", transcript("gemini"))["added"] == 17
    assert [e["exit_code"] for e in events(store)] == GEMINI_EXITS  # `printf 'Exit Code: 7'` is a 0
    assert imported(store, "gemini", transcript("gemini"))["added"] == 0


def test_the_live_hook_and_an_import_record_one_call_once(tmp_path):
    store = tmp_path / "store"
    for agent, payload in (("claude-code", "PostToolUse"), ("codex", "PostToolUse"), ("gemini", "AfterTool")):
        data = json.loads((AGENTS / agent / f"{payload}.json").read_text())
        data["cwd"] = str(tmp_path)
        if "transcript_path" in data:
            data["transcript_path"] = str(transcript(agent))
        done = devtrace("hook", "record", agent, "--path", str(store), cwd=tmp_path, input=json.dumps(data).encode())
        assert done.returncode == 0
    live = wait_events(store, 3)
    assert sorted(e["captured_by"] for e in live) == ["claude-code", "codex", "gemini"]
    counts = {agent: imported(store, agent, transcript(agent)) for agent in ("claude-code", "codex", "gemini")}
    assert {agent: (c["added"], c["present"]) for agent, c in counts.items()} == {
        "claude-code": (21, 1), "codex": (15, 1), "gemini": (16, 1)}
    assert len(rows(store)) == 22 + 16 + 17


def test_a_key_rotation_between_two_imports_adds_no_call(tmp_path):
    store = tmp_path / "store"
    assert imported(store, "claude-code", transcript("claude-code"))["added"] == 22
    done = devtrace("key", "rotate", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    again = imported(store, "claude-code", transcript("claude-code"))
    assert (again["added"], again["present"]) == (0, 22)


def test_a_gemini_call_its_hook_recorded_before_a_rotation_is_not_imported_again(tmp_path):
    """Gemini's hook names no call: its event is found by session and keyed hash, under the old key."""
    store = tmp_path / "store"
    (store).mkdir()
    (store / "config.toml").write_text('command_text = "off"\n')
    data = json.loads((AGENTS / "gemini" / "AfterTool.json").read_text())
    data["cwd"] = str(tmp_path)
    done = devtrace("hook", "record", "gemini", "--path", str(store), cwd=tmp_path, input=json.dumps(data).encode())
    assert done.returncode == 0
    wait_events(store, 1)
    done = devtrace("key", "rotate", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    counts = imported(store, "gemini", transcript("gemini"))
    assert (counts["added"], counts["present"]) == (16, 1)


def test_codex_home_is_where_codex_keeps_its_rollouts(tmp_path):
    home = tmp_path / "codex-home"
    folder = home / "sessions" / "2026" / "12" / "06"
    folder.mkdir(parents=True)
    shutil.copy(transcript("codex"), folder / "rollout-2026-12-06T07-22-11-x.jsonl")
    counts = imported(tmp_path / "store", "codex", env=devtrace_env(CODEX_HOME=str(home), HOME=str(tmp_path)))
    assert (counts["files"], counts["added"]) == (1, 16)


def test_since_leaves_older_calls_out(tmp_path):
    counts = imported(tmp_path / "store", "claude-code", transcript("claude-code"), extra=("--since", "2030-01-01"))
    assert (counts["added"], counts["earlier"]) == (0, 22)
    done = devtrace("import", "codex", "--since", "yesterday", "--path", str(tmp_path / "store"), cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.decode().count("\n") == 1 and "YYYY-MM-DD" in done.stderr.decode()


def test_damaged_lines_are_skipped_with_a_count(tmp_path):
    damaged = tmp_path / "rollout.jsonl"
    lines = transcript("codex").read_bytes().splitlines(keepends=True)
    item = next(i for i, line in enumerate(lines) if b'"item_completed"' in line and b'"call_3_0"' in line)
    lines[item] = lines[item][:200] + b"\n"  # `sleep 1.2`'s result cut short
    lines.insert(5, b"\xff\xfe\x00binary\n")
    damaged.write_bytes(b"".join(lines) + b'{"timestamp": "2026-12-06T07:23:00Z", "type": "event_m')
    store = tmp_path / "store"
    done = devtrace("import", "codex", str(damaged), "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0 and b"Traceback" not in done.stderr
    assert done.stderr.decode().startswith("3 damaged lines")
    found = events(store)
    assert len(found) == 16  # sleep 1.2 from its function_call_output instead: never a partial event
    sleep = next(e for e in found if e["program"] == "sleep")
    assert sleep["exit_code"] == 0 and sleep["duration_approximate"] == 1


def test_agent_sessions_tokens_commands_and_cost(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "config.toml").write_text('[prices."claude-opus-4-8"]\ninput = 5.0\noutput = 25.0\n'
                                       'cache_read = 0.5\ncache_write = 6.25\n')
    for agent in ("claude-code", "codex", "gemini"):
        imported(store, agent, transcript(agent))
    with connect(str(store)) as con:
        sessions = {r["agent"]: r for r in query(con, "SELECT * FROM agent_sessions").to_dicts()}
    claude, codex, gemini = sessions["claude-code"], sessions["codex"], sessions["gemini"]
    # 22 scripted responses of 12 input and 5 output tokens each, no cache
    assert (claude["model_requests"], claude["input_tokens"], claude["output_tokens"]) == (22, 264, 110)
    assert (claude["shell_commands"], claude["failures"], claude["turns"]) == (22, sum(map(bool, CLAUDE_EXITS)), 1)
    assert claude["models"] == "claude-opus-4-8" and claude["price_date"] == "config"
    assert abs(claude["estimated_cost_usd"] - (264 * 5.0 + 110 * 25.0) / 1e6) < 1e-12
    assert (codex["input_tokens"], codex["output_tokens"], codex["shell_commands"]) == (192, 80, 16)
    assert codex["price_date"] == "2026-12-06"  # gpt-5.1-codex, from the shipped table
    assert abs(codex["estimated_cost_usd"] - (192 * 1.25 + 80 * 10.0) / 1e6) < 1e-12
    assert (gemini["input_tokens"], gemini["output_tokens"], gemini["tool_calls"]) == (204, 85, 17)
    assert gemini["started_at"] < gemini["ended_at"]
    # the same imports again change nothing
    imported(store, "claude-code", transcript("claude-code"))
    with connect(str(store)) as con:
        again = query(con, "SELECT input_tokens FROM agent_sessions WHERE agent = 'claude-code'").to_dicts()
    assert again == [{"input_tokens": 264}]


def test_an_unknown_model_has_no_cost_and_says_so(tmp_path):
    store = tmp_path / "store"
    imported(store, "claude-code", transcript("claude-code"))
    with connect(str(store)) as con:
        (row,) = query(con, "SELECT * FROM agent_sessions").to_dicts()
    assert row["estimated_cost_usd"] is None and row["unpriced_models"] == "claude-opus-4-8"


def test_bad_prices_in_config_are_one_sentence(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "config.toml").write_text('[prices."x"]\ninput = "cheap"\n')
    done = devtrace("import", "codex", str(transcript("codex")), "--path", str(store), cwd=tmp_path)
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    assert done.stderr.decode().strip().splitlines() == [
        'devtrace: [prices."x"] in config.toml needs non-negative numbers for input, output, cache_read, '
        'cache_write (US dollars per million tokens)']


def test_a_progress_line_on_a_terminal_only(tmp_path):
    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "devtrace", "import", "codex", str(transcript("codex")), "--path",
                           str(tmp_path / "store")], stdout=subprocess.PIPE, stderr=follower, env=devtrace_env(),
                          cwd=tmp_path, timeout=120)
    os.close(follower)
    shown = os.read(leader, 65536).decode()
    os.close(leader)
    assert done.returncode == 0 and b"added 16" in done.stdout
    assert "\rimporting codex [" in shown and "%" in shown and shown.endswith("\r\033[K")
    piped = devtrace("import", "codex", str(transcript("codex")), "--path", str(tmp_path / "other"), cwd=tmp_path)
    assert piped.stderr == b""  # not a terminal: the counts only, on stdout


LEGACY_GEMINI = AGENTS / "gemini" / "session-legacy.json"  # Gemini CLI <= 0.38's format: make_gemini_json.py


def test_geminis_older_json_chats_give_the_calls_and_tokens_of_its_jsonl(tmp_path):
    legacy, jsonl = tmp_path / "legacy", tmp_path / "jsonl"
    counts = imported(legacy, "gemini", LEGACY_GEMINI)
    assert (counts["read"], counts["added"], counts["damaged"], counts["sessions"]) == (17, 17, 0, 1)
    imported(jsonl, "gemini", transcript("gemini"))
    columns = "id, exit_code, timed_out, duration_ms, executed_at, command_hash IS NOT NULL, session_id, captured_by"
    assert rows(legacy, f"SELECT {columns} FROM command_events ORDER BY id") == rows(
        jsonl, f"SELECT {columns} FROM command_events ORDER BY id")
    assert [e["exit_code"] for e in events(legacy)] == GEMINI_EXITS
    usage = "SELECT agent, session_id, model, turns, tool_calls, requests, input_tokens, output_tokens, " \
            "cache_read_tokens, started_at FROM agent_session_usage"
    assert rows(legacy, usage) == rows(jsonl, usage)
    # the same session from its .jsonl (Gemini 0.39+ copies a resumed .json chat into one) adds nothing
    assert imported(legacy, "gemini", transcript("gemini"))["added"] == 0


def test_a_json_chat_is_read_a_chunk_at_a_time(monkeypatch):
    from devtrace.capture.imports import transcripts

    def calls(path: Path) -> list:
        sessions = transcripts.Sessions()
        with path.open("rb") as f:
            found = [(c.call_id, c.line, c.started_at, c.duration_ms, c.exit_code) for c in
                     transcripts.read_gemini(f, sessions)]
        return found + [sorted((k, vars_of(u)) for k, u in sessions.usage.items())]

    def vars_of(usage):
        return tuple(getattr(usage, name) for name in usage.__slots__)

    whole = calls(transcript("gemini"))
    for chunk in (1, 7, 4096):  # a value, a number, a multi-byte character cut at every place
        monkeypatch.setattr(transcripts, "_CHUNK", chunk)
        assert calls(LEGACY_GEMINI) == whole


def test_a_json_chat_cut_short_keeps_the_calls_before_the_cut(tmp_path):
    text = LEGACY_GEMINI.read_bytes()
    messages = json.loads(text)["messages"]
    k = len(messages) // 2
    cut = text.index(f'"id": "{messages[k]["id"]}"'.encode()) + 10  # inside message k: the ones before are whole
    before = sum(1 for m in messages[:k] for c in m.get("toolCalls") or () if c["name"] == "run_shell_command")
    for name, damaged in (("cut", text[:cut]), ("binary", b"{\n  \xff\xfe binary")):
        (tmp_path / "chat.json").write_bytes(damaged)
        store = tmp_path / name
        done = devtrace("import", "gemini", str(tmp_path / "chat.json"), "--path", str(store), cwd=tmp_path)
        assert done.returncode == 0 and b"Traceback" not in done.stderr
        assert done.stderr.decode().startswith("1 damaged line")
    assert 0 < before < 17 and len(rows(tmp_path / "cut")) == before
    assert rows(tmp_path / "binary") == []


def test_geminis_default_folders_hold_json_and_jsonl_chats(tmp_path):
    chats = tmp_path / "home" / ".gemini" / "tmp" / "project" / "chats"
    chats.mkdir(parents=True)
    shutil.copy(LEGACY_GEMINI, chats / "session-2025-11-01T10-00-d925b2f7.json")
    env = devtrace_env(HOME=str(tmp_path / "home"))
    assert imported(tmp_path / "store", "gemini", env=env)["added"] == 17
    # resumed by a newer Gemini: the .jsonl beside it holds all of it, and is read instead
    shutil.copy(transcript("gemini"), chats / "session-2025-11-01T10-00-d925b2f7.jsonl")
    counts = imported(tmp_path / "other", "gemini", env=env)
    assert (counts["files"], counts["added"]) == (1, 17)


BACKGROUND_TRANSCRIPT = AGENTS / "claude-code" / "transcript-background.jsonl"  # the harness's full session


def test_a_claude_background_command_gets_the_exit_its_task_notification_gives(tmp_path):
    store = tmp_path / "store"
    counts = imported(store, "claude-code", BACKGROUND_TRANSCRIPT)
    assert (counts["read"], counts["added"], counts["damaged"]) == (24, 24, 0)
    (event,) = [e for e in events(store) if e["command_text"] == "sleep 1; exit 7"]
    # launched at 07:46:56.599, notified "failed with exit code 7" at 07:46:57.947: as the live hook records it
    assert (event["exit_code"], event["timed_out"], event["duration_ms"], event["duration_approximate"]) == (7, 0, 1348, 1)
    assert imported(store, "claude-code", BACKGROUND_TRANSCRIPT)["added"] == 0


def test_a_claude_background_command_never_notified_has_no_exit(tmp_path):
    lines = BACKGROUND_TRANSCRIPT.read_bytes().splitlines(keepends=True)
    notified = next(i for i, line in enumerate(lines) if b"<task-notification>" in line)
    cut = tmp_path / "session.jsonl"
    cut.write_bytes(b"".join(lines[:notified]))  # the session as it was before the command ended
    store = tmp_path / "store"
    first = imported(store, "claude-code", cut)["added"]
    (event,) = [e for e in events(store) if e["command_text"] == "sleep 1; exit 7"]
    assert (event["exit_code"], event["timed_out"], event["duration_ms"]) == (None, None, None)
    # the whole transcript later: that call is stored already, as it was (events are append-only)
    again = imported(store, "claude-code", BACKGROUND_TRANSCRIPT)
    assert (again["present"], first + again["added"]) == (first, 24)
    assert [e["exit_code"] for e in events(store) if e["command_text"] == "sleep 1; exit 7"] == [None]


def test_a_chat_written_by_gemini_cli_0_38_2(tmp_path):
    """The real format: a session of the last Gemini CLI that wrote .json chats (see the README)."""
    store = tmp_path / "store"
    counts = imported(store, "gemini", AGENTS / "gemini" / "session-0.38.2.json")
    assert (counts["read"], counts["added"], counts["damaged"], counts["sessions"]) == (6, 6, 0, 1)
    found = events(store)
    assert [(e["command_text"], e["exit_code"]) for e in found] == [
        ("true", 0), ("false", 1), ("sh -c 'exit 3'", 3), ("sleep 1.2", 0), ("echo parallel-one", 0),
        ("echo parallel-two", 0)]
    assert {e["session_id"] for e in found} == {"e3f18c40-17d1-4bfd-8271-61043308c92b"}
    assert 1200 <= next(e["duration_ms"] for e in found if e["command_text"] == "sleep 1.2") < 3000
    usage = rows(store, "SELECT model, turns, requests, input_tokens, output_tokens FROM agent_session_usage")
    assert [tuple(u) for u in usage] == [("gemini-2.5-flash", 1, 6, 72, 30)]

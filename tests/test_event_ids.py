"""One rule for event ids: UUIDv7 for live events, a UUIDv5 of (agent, session, call) for an
agent's tool call, so that the same call recorded twice (a hook, an import) is one event."""

import json
import uuid

from devtrace.capture.event_ids import live, of_call
from tests.hook_support import wait_events
from tests.support import devtrace, rows


def test_live_ids_are_uuid7_in_time_order_and_call_ids_are_stable():
    ids = [live(n * 1_000_000) for n in (1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000)]
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids) and len(set(live() for _ in range(1000))) == 1000
    assert uuid.UUID(ids[0]).int >> 80 == 1_700_000_000_000  # the milliseconds lead
    one = of_call("claude-code", "session-1", "toolu_01")
    assert uuid.UUID(one).version == 5 and one == of_call("claude-code", "session-1", "toolu_01")
    assert len({one, of_call("codex", "session-1", "toolu_01"), of_call("claude-code", "session-2", "toolu_01"),
                of_call("claude-code", "session-1", "toolu_02")}) == 4


def test_call_and_history_ids_are_the_uuid5_of_the_standard_library():
    """Ids stored by earlier versions (uuid.uuid5) must be the ids computed now."""
    from devtrace.capture.event_ids import NAMESPACE, of_history

    for parts in [("claude-code", "s-1", "toolu_01"), ("gemini", "é☃", ""), ("codex", "x" * 300, "call\x00")]:
        assert of_call(*parts) == str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))
    assert of_history("import-zsh", "1700000000.0", "f" * 64) == str(
        uuid.uuid5(NAMESPACE, "\x1f".join(("history", "import-zsh", "1700000000.0", "f" * 64))))


def test_the_same_agent_call_recorded_twice_is_one_event(tmp_path, repo):
    store = tmp_path / "store"
    payload = {"session_id": "s-1", "cwd": str(repo), "tool_name": "Bash", "tool_use_id": "toolu_same",
               "tool_input": {"command": "pytest -q"}, "tool_response": {"stdout": "ok"}, "duration_ms": 20,
               "hook_event_name": "PostToolUse"}
    for _ in range(2):  # the second time, the first is stored already
        done = devtrace("hook", "record", "claude-code", "--path", str(store), cwd=repo, input=json.dumps(payload).encode())
        assert done.returncode == 0
        wait_events(store, 1)
    other = {**payload, "tool_use_id": "toolu_other"}
    devtrace("hook", "record", "claude-code", "--path", str(store), cwd=repo, input=json.dumps(other).encode())
    wait_events(store, 2)
    ids = [r["id"] for r in rows(store, "SELECT id FROM command_events ORDER BY rowid")]
    assert ids == [of_call("claude-code", "s-1", "toolu_same"), of_call("claude-code", "s-1", "toolu_other")]
    done = devtrace("run", "--keep-noop", "--quiet", "--path", str(store), "--", "true", cwd=repo)
    assert done.returncode == 0
    newest = rows(store, "SELECT id FROM command_events ORDER BY rowid DESC LIMIT 1")[0]["id"]
    assert uuid.UUID(newest).version == 7

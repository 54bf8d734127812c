"""Codex: tool `Bash` (its `exec_command`), PreToolUse and PostToolUse, paired by
`tool_use_id`; hooks in `$CODEX_HOME/hooks.json` (default ~/.codex), run only once the user
trusted them.

PostToolUse carries no exit code, but when it fires, the session's transcript
(`transcript_path`, JSON lines) already holds the command's `item_completed` entry, whose
`item.id` is the `tool_use_id`, with the exact `exit_code`; a command Codex's sandbox refused
(a write in `--sandbox read-only`, which fails with 1) has only its `function_call_output`,
whose header says "Process exited with code N", written just after PostToolUse fired (2 ms
later in a CI run whose drainer came in between): while the transcript holds the call but
not yet its result, the drainer holds the Post back (agent_records.OUTCOME_GRACE_S). It is
read from the end of the file, within a bounded size; where neither is there (`codex exec
--ephemeral`) the exit is unknown.
The duration is the time between the Pre and Post hooks (approximate). A command still
running when the turn ends (yielded, never polled) fires only PreToolUse: at Stop it is
recorded with the exit the transcript has by then, else unknown.
"""

import json
import os

from devtrace.capture.hooks.agents import transcript
from devtrace.capture.hooks.agents.spec import AgentSpec, Outcome


def call_id(payload: dict) -> str:
    value = payload.get("tool_use_id")
    return value if isinstance(value, str) else ""


def outcome(payload: dict) -> Outcome:
    code = exit_code(payload.get("transcript_path"), call_id(payload))
    return Outcome(code, None if code is None else False)


def orphan(payload: dict, call: str, started_at: float, ended_at: float) -> Outcome:
    """A call whose PostToolUse never came (still running when the turn ended, yielded and
    never polled): its exit if the transcript has it by now, else unknown."""
    code = exit_code(payload.get("transcript_path"), call)
    return Outcome(code, None if code is None else False)


def outcome_pending(payload: dict) -> bool:
    """The transcript holds the call (its `function_call`) but not yet its result, which Codex
    writes after the call: read back from the end, the first of them found says which."""
    path, call = payload.get("transcript_path"), call_id(payload)
    if not call:
        return False
    entry = transcript.find(path, json.dumps(call), lambda e: _is_call(e, call) or _accept(e, call) is not False)
    return entry is not None and _is_call(entry, call)


def exit_code(path, call: str) -> int | None:
    """The call's exit code from the transcript: its `item_completed` entry, else the header of
    its `function_call_output` (a command the sandbox refused has only that); None if neither."""
    entry = _result(path, call)
    payload = entry.get("payload") if entry else None
    if payload is None:
        return None
    code = payload["item"].get("exit_code") if payload.get("type") == "item_completed" else \
        _exit_from_output(payload.get("output"))
    # -1: Codex ended the process itself (a command still running when its turn ended): no status
    return code if isinstance(code, int) and not isinstance(code, bool) and code >= 0 else None


def _result(path, call: str) -> dict | None:
    return transcript.find(path, json.dumps(call), lambda e: _accept(e, call))


def _is_call(entry: dict, call: str) -> bool:
    payload = entry.get("payload")
    return isinstance(payload, dict) and payload.get("type") == "function_call" and payload.get("call_id") == call


def _accept(entry: dict, call: str):
    payload = entry.get("payload")
    if not isinstance(payload, dict):
        return False
    item = payload.get("item")
    if payload.get("type") == "item_completed" and isinstance(item, dict) and item.get("id") == call:
        return True
    if payload.get("type") == "function_call_output" and payload.get("call_id") == call:
        return "maybe"
    return False


def _exit_from_output(output) -> int | None:
    """"Process exited with code N" among the header lines before "Output:" (what follows is
    the command's own output, which may say anything)."""
    if not isinstance(output, str):
        return None
    for line in output.split("\n"):
        if line == "Output:":
            break
        if line.startswith("Process exited with code ") and line[25:].strip().lstrip("-").isdigit():
            return int(line[25:])
    return None


def codex_home() -> str:
    return os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")


def trust(hooks_file: str, hooks: dict, mine) -> str:
    """Codex's trust in DevTrace's entries of `hooks_file`: "trusted", "not trusted" (never
    trusted: Codex skips them), or "modified" (trusted once, changed since: skipped again).
    Codex keeps it in $CODEX_HOME/config.toml as `[hooks.state."FILE:EVENT:GROUP:HOOK"]
    trusted_hash`, the SHA-256 of the entry's normalised JSON (its defaults filled in)."""
    import hashlib
    import tomllib

    try:
        with open(os.path.join(codex_home(), "config.toml"), "rb") as f:
            state = tomllib.load(f).get("hooks", {}).get("state", {})
    except (OSError, tomllib.TOMLDecodeError):
        state = {}
    verdicts = set()
    for event, groups in hooks.items():
        for g, group in enumerate(groups if isinstance(groups, list) else ()):
            for h, hook in enumerate(group.get("hooks", []) if isinstance(group, dict) else ()):
                if not mine(hook):
                    continue
                name = _snake(event)
                handler = {"async": bool(hook.get("async", False)), "command": hook.get("command"),
                           "timeout": hook.get("timeout", 600), "type": "command"}
                if "statusMessage" in hook:
                    handler["statusMessage"] = hook["statusMessage"]
                identity = {"event_name": name, "hooks": [handler]}
                if "matcher" in group:
                    identity["matcher"] = group["matcher"]
                digest = "sha256:" + hashlib.sha256(
                    json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
                entry = state.get(f"{hooks_file}:{name}:{g}:{h}")
                trusted = entry.get("trusted_hash") if isinstance(entry, dict) else None
                verdicts.add("trusted" if trusted == digest else "modified" if trusted else "not trusted")
    for verdict in ("not trusted", "modified", "trusted"):
        if verdict in verdicts:
            return verdict
    return "not trusted"


def check(file: str, hooks: dict, mine, folder: str) -> tuple[str, list[str], list[str]]:
    state = trust(file, hooks, mine)
    if state == "trusted":
        return state, [], []
    return state, [f"installed, {state}: Codex skips it until you trust it (run codex, type /hooks, trust"
                   " DevTrace's entries)"], []


def _snake(event: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in event).lstrip("_")


SPEC = AgentSpec(
    "codex",
    settings=".codex/hooks.json",
    home_variable="CODEX_HOME",
    tool="Bash",
    events=("PreToolUse", "PostToolUse", "Stop"),
    start_event="PreToolUse",
    end_events=("PostToolUse",),
    outcome=outcome,
    outcome_pending=outcome_pending,
    call_id=call_id,
    check=check,
    turn_end_events=("Stop",),
    orphan=orphan,
)

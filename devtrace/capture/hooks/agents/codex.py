"""Codex: tool `Bash` (its `exec_command`), PreToolUse and PostToolUse, paired by
`tool_use_id`; hooks in `$CODEX_HOME/hooks.json` (default ~/.codex), run only once the user
trusted them.

PostToolUse carries no exit code, but when it fires, the session's transcript
(`transcript_path`, JSON lines) already holds the command's `item_completed` entry, whose
`item.id` is the `tool_use_id`, with the exact `exit_code`; a command run in Codex's sandbox
has only its `function_call_output`, whose header says "Process exited with code N" (a write
the sandbox refused fails with 1). It is read from the end of the file, within a bounded
size; where neither is there (`codex exec --ephemeral`) the exit is unknown.
The duration is the time between the Pre and Post hooks (approximate).
"""

import json
import os

from devtrace.capture.hooks.agents.spec import AgentSpec, Outcome

TRANSCRIPT_TAIL = 8 * 1024 * 1024  # bytes read back from the end at most
_CHUNK = 256 * 1024


def call_id(payload: dict) -> str:
    value = payload.get("tool_use_id")
    return value if isinstance(value, str) else ""


def outcome(payload: dict) -> Outcome:
    entry = transcript_entry(payload.get("transcript_path"), call_id(payload))
    code = None
    if entry is not None and entry.get("type") == "item_completed":
        code = entry["item"].get("exit_code")
    elif entry is not None:  # the tool's output to the model: its header says how the process ended
        code = _exit_from_output(entry.get("output"))
    if not isinstance(code, int) or isinstance(code, bool):
        return Outcome(None, None)
    return Outcome(code, False)


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


def transcript_entry(path, call: str) -> dict | None:
    """This call's `item_completed` payload in the transcript (the command's exact exit code),
    else its `function_call_output` (a command the sandbox ran has only that); None if neither."""
    if not isinstance(path, str) or not call:
        return None
    needle = json.dumps(call).encode()
    fallback = None
    try:
        with open(path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            position, carry = end, b""
            while position > 0 and end - position < TRANSCRIPT_TAIL:
                size = min(_CHUNK, position)
                position -= size
                f.seek(position)
                block = f.read(size) + carry
                lines = block.split(b"\n")
                carry = lines[0] if position > 0 else b""
                for line in reversed(lines[1:] if position > 0 else lines):
                    if needle in line:
                        found = _entry(line, call)
                        if found is not None and found.get("type") == "item_completed":
                            return found
                        fallback = fallback or found
    except OSError:
        return None
    return fallback


def _entry(line: bytes, call: str) -> dict | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    payload = entry.get("payload") if isinstance(entry, dict) else None
    if not isinstance(payload, dict):
        return None
    item = payload.get("item")
    if payload.get("type") == "item_completed" and isinstance(item, dict) and item.get("id") == call:
        return payload
    if payload.get("type") == "function_call_output" and payload.get("call_id") == call:
        return payload
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
    events=("PreToolUse", "PostToolUse"),
    start_event="PreToolUse",
    end_events=("PostToolUse",),
    outcome=outcome,
    call_id=call_id,
    check=check,
)

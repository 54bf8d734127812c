"""What the coding agents' hook payloads say about a shell command, and what they do not.

Claude Code (PostToolUse / PostToolUseFailure, tool `Bash`): its own `duration_ms`; exit 0
after PostToolUse, the code of `Exit code N` in PostToolUseFailure's `error`, a timeout from
its text, an interrupt (`is_interrupt`, or `interrupted` in the response) as 130, the status a
shell gives a command stopped by Ctrl-C. Codex (PreToolUse / PostToolUse, tool `Bash`): no exit
code and no duration; the duration is the time between its Pre and Post hooks for one
`tool_use_id` (approximate). Gemini CLI (BeforeTool / AfterTool, tool `run_shell_command`):
the exit code from `Exit Code: N` in `llmContent` (present only when non-zero; `Signal: N`
gives 128+N), the duration between its Before and After hooks (approximate; no call id, so
they pair by the command's hash: Gemini runs tools one at a time).
"""

import json
import re

from devtrace.capture.hooks.writer import Finished, Started

INTERRUPTED = 130

_SHELL_TOOL = {"claude-code": "Bash", "codex": "Bash", "gemini": "run_shell_command"}
_STARTS = {"codex": "PreToolUse", "gemini": "BeforeTool"}


def parse(agent: str, data: bytes, called_at: float) -> Finished | Started | None:
    """The report in an agent's payload, or None when it is not about a shell command.
    `called_at`: when the agent called the hook (the end, or for a Pre hook the start)."""
    payload = json.loads(data)
    if not isinstance(payload, dict) or payload.get("tool_name") != _SHELL_TOOL.get(agent):
        return None
    line = _command(payload.get("tool_input"))
    session = payload.get("session_id")
    if line is None or not isinstance(session, str) or not session:
        return None
    event = payload.get("hook_event_name")
    if event == _STARTS.get(agent):
        return Started(agent, line, session, _text(payload.get("tool_use_id")) if agent == "codex" else "", called_at)
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else "/"
    common = {"ended_at": called_at, "session": session, "cwd": cwd, "agent_id": agent, "author_kind": "agent"}
    if agent == "claude-code" and event in ("PostToolUse", "PostToolUseFailure"):
        exit_code, timed_out = _claude_outcome(event, payload)
        duration = payload.get("duration_ms")
        duration = round(duration) if isinstance(duration, (int, float)) and duration >= 0 else None
        return Finished(agent, line, exit_code=exit_code, timed_out=timed_out, duration_ms=duration,
                        call_id=_text(payload.get("tool_use_id")) or None, **common)
    if agent == "codex" and event == "PostToolUse":
        return Finished(agent, line, exit_code=None, timed_out=None, duration_ms=None,
                        pair_key=_text(payload.get("tool_use_id")), call_id=_text(payload.get("tool_use_id")) or None,
                        **common)
    if agent == "gemini" and event == "AfterTool":
        return Finished(agent, line, exit_code=_gemini_exit(payload.get("tool_response")), timed_out=None,
                        duration_ms=None, pair_key="", **common)
    return None


def _command(tool_input) -> str | None:
    command = tool_input.get("command") if isinstance(tool_input, dict) else None
    if isinstance(command, list) and all(isinstance(word, str) for word in command):
        # an argv; `bash -lc LINE` is LINE, so it hashes as the same line typed at a prompt
        if len(command) == 3 and command[1] in ("-c", "-lc") and command[0].rsplit("/", 1)[-1] in ("bash", "sh", "zsh"):
            return command[2]
        import shlex

        return shlex.join(command)
    return command if isinstance(command, str) else None


def _claude_outcome(event: str, payload: dict) -> tuple[int | None, bool | None]:
    response = payload.get("tool_response")
    if event == "PostToolUse":
        interrupted = isinstance(response, dict) and response.get("interrupted") is True
        return (INTERRUPTED if interrupted else 0), False
    if payload.get("is_interrupt") is True:
        return INTERRUPTED, False
    error = payload.get("error") if isinstance(payload.get("error"), str) else ""
    code = re.search(r"\bExit code (\d+)", error)
    timed_out = "timed out" in error.lower() or "timeout" in error.lower()
    if code:
        return int(code.group(1)), timed_out
    return None, (True if timed_out else None)


def _gemini_exit(response) -> int | None:
    content = response.get("llmContent") if isinstance(response, dict) else None
    if not isinstance(content, str):
        return None
    code = re.search(r"^Exit Code: (\d+)", content, re.MULTILINE)
    if code:
        return int(code.group(1))
    signal = re.search(r"^Signal: (\d+)", content, re.MULTILINE)
    if signal:
        return 128 + int(signal.group(1))
    return 0


def _text(value) -> str:
    return value if isinstance(value, str) else ""

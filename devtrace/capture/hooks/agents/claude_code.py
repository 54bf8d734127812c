"""Claude Code: tool `Bash`; PostToolUse for a success, PostToolUseFailure for a failure, both
with Claude's own `duration_ms`.

- PostToolUse also comes for an exit 1 that Claude deems normal (grep/rg/find/diff/test/`[`,
  git diff/grep finding nothing or a difference): `tool_response.returnCodeInterpretation`
  ("No matches found", "Files differ", "Condition is false") says so; it is never sent for 0.
- PostToolUseFailure's `error` is "Exit code N\\n<output>". Claude adds "Command timed out after
  …" when it killed the command at its timeout, and also after a SIGTERM from elsewhere (exit
  143): only a `duration_ms` that reached the timeout (`tool_input.timeout`, default 2 min)
  makes it a timeout, stored as 124 with timed_out, as `devtrace run --timeout` does.
- An interrupt (`is_interrupt`, or `interrupted` in the response) is 130.
- `run_in_background`: PostToolUse comes at launch; the call stays pending until Claude's task
  notification in the transcript gives its exit (read at Stop/SessionEnd: `claude -p` waits
  for it), unknown at SessionEnd without one; timed from PreToolUse to the notification.
- PreToolUse opens each call. An interrupt (Esc, an SDK interrupt) and a call the user or a
  permission rule rejected fire no PostToolUse: at Stop or SessionEnd such a call is recorded
  as interrupted (130), timed from PreToolUse to its result in the transcript (or to the end
  of the turn), approximately.
- `claude -p` given SIGINT during a command writes the interrupted call's result to its
  transcript but fires no end, no Stop, no SessionEnd: a day later the start is resolved as
  at a turn's end from that transcript (found by the session's id under ~/.claude/projects,
  or $CLAUDE_CONFIG_DIR), its end unknown where the transcript has no result for it.
"""

import glob
import json
import os
import re

from devtrace.capture.hooks.agents import transcript
from devtrace.capture.hooks.agents.spec import AgentSpec, Outcome

INTERRUPTED, TIMED_OUT = 130, 124
DEFAULT_TIMEOUT_MS = 120_000


def outcome(payload: dict) -> Outcome:
    tool_input = payload.get("tool_input")
    if isinstance(tool_input, dict) and tool_input.get("run_in_background") is True:
        return Outcome(None, None, background=True)  # reported at launch: how it ends is not known here, never a success
    duration = payload.get("duration_ms")
    duration = round(duration) if isinstance(duration, (int, float)) and duration >= 0 else None
    response = payload.get("tool_response")
    if payload.get("hook_event_name") == "PostToolUse":
        if isinstance(response, dict) and response.get("interrupted") is True:
            return Outcome(INTERRUPTED, False, duration)
        interpreted = isinstance(response, dict) and isinstance(response.get("returnCodeInterpretation"), str)
        return Outcome(1 if interpreted else 0, False, duration)
    if payload.get("is_interrupt") is True:
        return Outcome(INTERRUPTED, False, duration)
    error = payload.get("error")
    if not isinstance(error, str):
        error = ""
    first = error.split("\n", 1)[0]
    code = re.fullmatch(r"Exit code (\d+)", first)
    if re.search(r"^Command timed out after ", error, re.MULTILINE) and duration is not None \
            and duration >= _timeout_ms(payload.get("tool_input")):
        return Outcome(TIMED_OUT, True, duration)
    return Outcome(int(code.group(1)) if code else None, False, duration)


def orphan(payload: dict, call: str, started_at: float, ended_at: float) -> Outcome | None:
    """A call with PreToolUse and no end recorded, at Stop or SessionEnd. Its result in the
    transcript says what it was: a background command's launch (its outcome comes later, as a
    task notification; until then it stays pending, and at SessionEnd without one it is
    unknown), else a rejected or interrupted call (130, timed to its result or to now)."""
    path, needle = payload.get("transcript_path"), json.dumps(call)[1:-1]
    result = transcript.find(path, needle, lambda e: _result_of(e, call))
    if result is not None and launched_in_background(result, call):
        done = transcript.find(path, f"<tool-use-id>{call}</tool-use-id>", _notification)
        if done is None:
            return Outcome(None, None, background=True) if payload.get("hook_event_name") == "SessionEnd" else None
        end = transcript.timestamp(done)
        duration = max(0, round((end - started_at) * 1000)) if end is not None and end >= started_at else None
        return Outcome(background_exit(_text_of(done)), False, duration)
    end = transcript.timestamp(result) if result else None
    end = end if end is not None and end >= started_at else ended_at
    return Outcome(INTERRUPTED, False, max(0, round((end - started_at) * 1000)))


def expired(session: str, call: str, started_at: float, now: float) -> Outcome | None:
    """A start still waiting a day later: its session was killed. Resolved from the session's
    transcript as at a SessionEnd where the transcript holds the call's result; else unknown."""
    if not session or os.sep in session or not call:
        return None
    folder = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    found = glob.glob(os.path.join(glob.escape(folder), "projects", "*", glob.escape(session) + ".jsonl"))
    result = transcript.find(found[0], json.dumps(call)[1:-1], lambda e: _result_of(e, call)) if len(found) == 1 else None
    if result is None:
        return None
    if not launched_in_background(result, call) and (transcript.timestamp(result) or 0) < started_at:
        return Outcome(INTERRUPTED, False)  # it ended, when is not said
    return orphan({"transcript_path": found[0], "hook_event_name": "SessionEnd"}, call, started_at, now)


def launched_in_background(entry: dict, call: str) -> bool:
    for block in entry["message"]["content"]:
        if isinstance(block, dict) and block.get("tool_use_id") == call:
            content = block.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            return "running in background with ID" in text
    return False


def _notification(entry: dict) -> bool:
    return "<task-notification>" in _text_of(entry)


def _text_of(entry: dict) -> str:
    content = entry.get("content")
    if isinstance(content, str):
        return content
    attachment = entry.get("attachment")
    prompt = attachment.get("prompt") if isinstance(attachment, dict) else None
    return prompt if isinstance(prompt, str) else ""


def background_exit(text: str) -> int | None:
    """From Claude's task notification: "<status>completed|failed|…</status>" and a summary
    "… failed with exit code N"."""
    status = re.search(r"<status>(\w+)</status>", text)
    code = re.search(r"exit code (\d+)</summary>", text)
    if code:
        return int(code.group(1))
    return 0 if status and status.group(1) == "completed" else None


def _result_of(entry: dict, call: str) -> bool:
    message = entry.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" and block.get("tool_use_id") == call
        for block in content)


def _timeout_ms(tool_input) -> int:
    timeout = tool_input.get("timeout") if isinstance(tool_input, dict) else None
    return timeout if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout > 0 else DEFAULT_TIMEOUT_MS


SPEC = AgentSpec(
    "claude-code",
    settings=".claude/settings.json",
    tool="Bash",
    events=("PreToolUse", "PostToolUse", "PostToolUseFailure", "Stop", "SessionEnd"),
    start_event="PreToolUse",
    end_events=("PostToolUse", "PostToolUseFailure"),
    outcome=outcome,
    turn_end_events=("Stop", "SessionEnd"),
    orphan=orphan,
    expired=expired,
    call_id=lambda payload: payload.get("tool_use_id") if isinstance(payload.get("tool_use_id"), str) else "",
)

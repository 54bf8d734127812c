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
- `run_in_background`: PostToolUse comes at launch, so exit, timeout and duration are unknown.
"""

import re

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
    error = payload.get("error") if isinstance(payload.get("error"), str) else ""
    first = error.split("\n", 1)[0]
    code = re.fullmatch(r"Exit code (\d+)", first)
    if re.search(r"^Command timed out after ", error, re.MULTILINE) and duration is not None \
            and duration >= _timeout_ms(payload.get("tool_input")):
        return Outcome(TIMED_OUT, True, duration)
    return Outcome(int(code.group(1)) if code else None, False, duration)


def _timeout_ms(tool_input) -> int:
    timeout = tool_input.get("timeout") if isinstance(tool_input, dict) else None
    return timeout if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout > 0 else DEFAULT_TIMEOUT_MS


SPEC = AgentSpec(
    "claude-code",
    settings=".claude/settings.json",
    tool="Bash",
    events=("PostToolUse", "PostToolUseFailure"),
    end_events=("PostToolUse", "PostToolUseFailure"),
    outcome=outcome,
    call_id=lambda payload: payload.get("tool_use_id") if isinstance(payload.get("tool_use_id"), str) else "",
)

"""Gemini CLI: tool `run_shell_command`, BeforeTool and AfterTool; no call id, so the two pair
by the command's hash, the nearest start first (tool calls of one turn run in parallel).
Both payloads carry Gemini's own `timestamp`, which times the pair.

AfterTool's `tool_response.llmContent` is "Output: <output>" then Gemini's own lines (`Error:`,
`Exit Code: N` when not 0, `Signal: N`, `Background PIDs:`, `Process Group PGID:`), inside
`<untrusted_context>`; `returnDisplay` is the output itself, or when there is none "Command
exited with code: N" / "Command terminated by signal: N". A stopped command's `llmContent`
starts instead with "Command was automatically cancelled because it exceeded the timeout"
(its inactivity timeout, `tools.shell.inactivityTimeout`: 124, timed out), "Command was
cancelled by user" (130) or "Command moved to background" (unknown). The exit code is
read from Gemini's lines after the output, never from the output: a command may print "Exit
Code: 7" itself. `tool_input.dir_path` is the folder it ran in. With `is_background`,
AfterTool comes at launch: the exit is unknown.
"""

import os
import re

from devtrace.capture.hooks.agents.spec import AgentSpec, Outcome
from devtrace.capture.hooks.agents.transcript import timestamp

INTERRUPTED, TIMED_OUT = 130, 124
_OWN_LINES = ("Error: ", "Exit Code: ", "Signal: ", "Background PIDs: ", "Process Group PGID: ")


def outcome(payload: dict) -> Outcome:
    response = payload.get("tool_response")
    content = response.get("llmContent") if isinstance(response, dict) else None
    display = response.get("returnDisplay") if isinstance(response, dict) else None
    display = display if isinstance(display, str) else ""
    ended_at = timestamp(payload)
    tool_input = payload.get("tool_input")
    if isinstance(tool_input, dict) and tool_input.get("is_background") is True:
        return Outcome(None, None, ended_at=ended_at, background=True)  # AfterTool at launch: how it ends is unknown
    if not isinstance(content, str):
        return Outcome(None, None, ended_at=ended_at)
    body = _unwrapped(content)
    if body.startswith("Command was automatically cancelled because it exceeded the timeout"):
        return Outcome(TIMED_OUT, True, ended_at=ended_at)  # its inactivity timeout
    if body.startswith("Command was cancelled by user"):
        return Outcome(INTERRUPTED, False, ended_at=ended_at)
    if body.startswith("Command moved to background"):
        return Outcome(None, None, ended_at=ended_at, background=True)
    code = re.fullmatch(r"Command exited with code: (-?\d+)", display.strip())
    if code:
        return Outcome(int(code.group(1)), False, ended_at=ended_at)
    signal = re.fullmatch(r"Command terminated by signal: (\d+)", display.strip())
    if signal:
        return Outcome(128 + int(signal.group(1)), False, ended_at=ended_at)
    lines = _own_lines(content, display)
    if lines is None:
        return Outcome(None, None, ended_at=ended_at)
    for line in lines:
        if line.startswith("Exit Code: ") and line[11:].strip().lstrip("-").isdigit():
            return Outcome(int(line[11:]), False, ended_at=ended_at)
        if line.startswith("Signal: ") and line[8:].strip().isdigit():
            return Outcome(128 + int(line[8:]), False, ended_at=ended_at)
    return Outcome(0, False, ended_at=ended_at)


def _own_lines(content: str, output: str) -> list[str] | None:
    """Gemini's lines after the command's output: where the output is known (`returnDisplay`),
    what follows it; else the trailing run of lines in Gemini's own forms."""
    body = _unwrapped(content)
    if output and body.startswith("Output: " + output + "\n"):
        return body[len("Output: " + output) + 1:].split("\n")
    if not body.startswith("Output: "):
        return None
    tail: list[str] = []
    for line in reversed(body.split("\n")[1:]):
        if not line.startswith(_OWN_LINES):
            break
        tail.insert(0, line)
    return tail


def _unwrapped(content: str) -> str:
    body = content.strip()
    if body.startswith("<untrusted_context>") and body.endswith("</untrusted_context>"):
        body = body[len("<untrusted_context>"):-len("</untrusted_context>")].strip("\n")
    return body


def started_at(payload: dict, called_at: float) -> float:
    return timestamp(payload) or called_at


def directory(payload: dict, cwd: str) -> str:
    tool_input = payload.get("tool_input")
    folder = tool_input.get("dir_path") if isinstance(tool_input, dict) else None
    if isinstance(folder, str) and folder:
        return os.path.normpath(os.path.join(cwd, os.path.expanduser(folder)))
    return cwd


def folder_trust(folder: str) -> str:
    """Whether Gemini CLI trusts `folder`, as 0.61 decides (it runs no hook in a folder it does
    not trust): "trusted", or "not trusted" (refused in trustedFolders.json, or in no rule
    there: interactive sessions then ask, headless ones refuse to start)."""
    import json

    if os.environ.get("GEMINI_RESTRICTED_MODE") == "true" or os.environ.get("GEMINI_CLI_TRUST_WORKSPACE") == "false":
        return "not trusted"
    if os.environ.get("GEMINI_CLI_TRUST_WORKSPACE") == "true":
        return "trusted"
    home = os.path.join(os.path.expanduser("~"), ".gemini")
    try:
        with open(os.path.join(home, "settings.json"), encoding="utf-8-sig") as f:
            settings = json.load(f)
        if settings.get("security", {}).get("folderTrust", {}).get("enabled") is False:
            return "trusted"  # folder trust turned off: every folder runs hooks
    except (OSError, ValueError, AttributeError):
        pass
    try:
        with open(os.environ.get("GEMINI_CLI_TRUSTED_FOLDERS_PATH") or os.path.join(home, "trustedFolders.json"),
                  encoding="utf-8-sig") as f:
            rules = json.load(f)
    except (OSError, ValueError):
        rules = {}
    where = os.path.realpath(folder)
    best, verdict = -1, None
    for path, level in (rules.items() if isinstance(rules, dict) else ()):
        base = os.path.realpath(os.path.dirname(path) if level == "TRUST_PARENT" else path)
        if (where == base or where.startswith(base.rstrip(os.sep) + os.sep)) and len(path) > best:
            best, verdict = len(path), level
    return "trusted" if verdict in ("TRUST_FOLDER", "TRUST_PARENT") else "not trusted"


def check(file: str, hooks: dict, mine, folder: str) -> tuple[str, list[str], list[str]]:
    state = folder_trust(folder)
    if state == "trusted":
        return state, [], []
    return state, [], ["this folder is not one Gemini CLI trusts: it runs no hook here (trust it in gemini's"
                       " /permissions, or run gemini --skip-trust)"]


SPEC = AgentSpec(
    "gemini",
    settings=".gemini/settings.json",
    tool="run_shell_command",
    events=("BeforeTool", "AfterTool", "SessionEnd"),
    start_event="BeforeTool",
    end_events=("AfterTool",),
    outcome=outcome,
    started_at=started_at,
    directory=directory,
    entry={"name": "DevTrace"},
    check=check,
    usage_events=("SessionEnd",),
)

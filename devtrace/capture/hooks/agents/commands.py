"""The command line in an agent's tool call, and the directory it really ran in."""

import os
import re

# `cd DIR &&` or `cd DIR;` at the start: the agent's payload names the directory the agent was
# in, but the command ran in DIR (Claude Code even resets its directory after leaving the project)
_LEADING_CD = re.compile(r"""\s*cd\s+('[^']*'|"[^"\\$`]*"|[^\s;&|'"]+)\s*(&&|;)""")


def line_of(tool_input) -> str | None:
    command = tool_input.get("command") if isinstance(tool_input, dict) else None
    if isinstance(command, list) and all(isinstance(word, str) for word in command):
        # an argv; `bash -lc LINE` is LINE, so it hashes as the same line typed at a prompt
        if len(command) == 3 and command[1] in ("-c", "-lc") and command[0].rsplit("/", 1)[-1] in ("bash", "sh", "zsh"):
            return command[2]
        import shlex

        return shlex.join(command)
    return command if isinstance(command, str) else None


def directory(line: str, cwd: str) -> str:
    """The folder a leading `cd DIR &&`/`;` moves to (relative to `cwd`, `~` the home folder),
    if it exists; else `cwd`."""
    match = _LEADING_CD.match(line)
    if match is None:
        return cwd
    target = match.group(1)
    if target[:1] in "'\"":
        target = target[1:-1]
    target = os.path.expanduser(target)
    if target.startswith("$") or target == "-":
        return cwd
    found = os.path.normpath(os.path.join(cwd, target))
    return found if os.path.isdir(found) else cwd

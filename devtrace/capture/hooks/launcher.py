"""The command line an agent's hook entry runs: `exec /bin/sh .../hooks/agent.sh AGENT PYTHON
[STORE]`, a POSIX sh script that spools the payload and starts this interpreter's drainer
when none is alive (see agent.sh). `exec`: the agent's own shell becomes the script's,
one fork less while the agent waits. Entries written by DevTrace before it, which ran
`python -I -S -c "... hooks.record import main ..." AGENT [--path STORE]`, are still
recognised as DevTrace's (`is_agent_hook`), so that install replaces them and uninstall
removes them; until then they spool too (hooks.record)."""

import os
import shlex
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent.sh")
SHELL = "/bin/sh"
_SCRIPT_TAIL = "/devtrace/capture/hooks/agent.sh"
_OLD_MARK = "devtrace.capture.hooks.record"


def argv(agent: str, path: str | None = None) -> list[str]:
    words = ["exec", SHELL, SCRIPT, agent, sys.executable]
    if path:
        words.append(os.path.abspath(os.path.expanduser(path)))
    return words


def is_agent_hook(command, agent: str) -> bool:
    """Whether a hook entry's command is DevTrace's hook for `agent`, this form or the old one."""
    if not isinstance(command, str):
        return False
    if _OLD_MARK in command:
        return f" {agent}" in command
    words = _words(command)
    return len(words) >= 4 and words[1].endswith(_SCRIPT_TAIL) and words[2] == agent


def _words(command: str) -> list[str]:
    """The command's words, without a leading `exec`."""
    try:
        words = shlex.split(command)
    except ValueError:
        return []
    return words[1:] if words[:1] == ["exec"] else words


def programs(command: str) -> list[str]:
    """The files a DevTrace hook command needs: (the script and) the interpreter."""
    words = _words(command)
    if _OLD_MARK in command:
        return words[:1]
    return [words[1], words[3]] if len(words) >= 4 else []


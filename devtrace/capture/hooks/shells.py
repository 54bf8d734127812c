"""The shell hooks: the scripts `devtrace hook bash|zsh|fish` prints, and what their writer
reads on its stdin.

Each shell sends one header line, `STATUS START_US DURATION_US SESSION` (START_US is 0 where
the shell has no clock builtin: fish, whose command then ended when it started the writer), then the command line: for bash, the `history 1`
entry it was read from; for zsh and fish, the line itself. bash under ble.sh has the line itself
too (from ble.sh's PREEXEC hook) and says so with a fifth word, `line`.
"""

import os
import time

from devtrace.capture.hooks import SHELLS, launcher
from devtrace.capture.hooks.writer import Finished
from devtrace.capture.identity import AGENT_ENVIRONMENT

_SCRIPTS = {"bash": "hook.bash", "zsh": "hook.zsh", "fish": "hook.fish"}


def script(shell: str, path: str | None = None) -> str:
    """The script to load in the shell's rc file. Its writer is this interpreter's DevTrace
    by absolute path (see launcher), so the hook works whatever PATH or virtualenv is
    active later."""
    with open(os.path.join(os.path.dirname(__file__), _SCRIPTS[shell]), encoding="utf-8") as f:
        text = f.read()
    quote = _fish_quote if shell == "fish" else sh_quote
    # A shell inside a coding agent records nothing: the agent's own hook records its commands.
    if shell == "fish":
        agent_variables = "".join(f'"${name}"' for name in AGENT_ENVIRONMENT)
    else:
        agent_variables = '"' + "".join(f"${{{name}-}}" for name in AGENT_ENVIRONMENT) + '"'
    return (text.replace("@WRITER@", " ".join(quote(word) for word in writer_argv(shell, path)))
            .replace("@AGENT_VARIABLES@", agent_variables))


def writer_argv(shell: str, path: str | None = None) -> list[str]:
    """The writer a prompt starts, under `nice -n 10` from its first instruction: the
    interpreter's start-up then gives way to the shell drawing its prompt. (A command typed
    right after the last one waited +12 ms for its prompt on 2 cores, +4 ms this way.)"""
    import shutil  # here: the writer itself, which imports this module, has no use for it

    nice = shutil.which("nice")
    return ([nice, "-n", "10"] if nice else []) + launcher.argv(shell, path)


def parse(shell: str, data: bytes) -> Finished | None:
    header, _, rest = data.partition(b"\n")
    fields = header.split()
    if len(fields) not in (4, 5) or fields[4:] not in ([], [b"line"]) or shell not in SHELLS:
        return None
    status, start_us, duration_us = (int(field) for field in fields[:3])
    line = rest.decode("utf-8", "surrogateescape")
    if shell == "bash" and len(fields) == 4:
        entry = _history_entry(line)
        if entry is None:
            return None
        line = entry
    ended_at = (start_us + duration_us) / 1e6 if start_us else _forked_at()
    return Finished(
        shell, line.rstrip("\n"), exit_code=status, timed_out=False, duration_ms=round(duration_us / 1000),
        ended_at=ended_at, session=fields[3].decode(), cwd=_cwd(), agent_id=None, author_kind="human",
    )


def _forked_at() -> float:
    """When the shell started this writer, i.e. when the command ended (to a clock tick, 10 ms):
    for fish, which has no clock builtin. The writer itself may start much later on a busy
    machine, and events are ordered by their start."""
    try:
        with open("/proc/self/stat", "rb") as f:
            ticks = int(f.read().rsplit(b")", 1)[-1].split()[19])
    except (OSError, ValueError, IndexError):
        return time.time()
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    return time.time() - max(age, 0.0)


def _cwd() -> str:
    try:
        return os.getcwd()  # the writer starts in the shell's folder
    except OSError:  # the folder was deleted
        return "/"


def _history_entry(text: str) -> str | None:
    """The command of a `history 1` entry: `%5d` number, a `*` or space, a space, the line."""
    stripped = text.lstrip(" ")
    digits = len(stripped) - len(stripped.lstrip("0123456789"))
    if digits == 0 or len(stripped) < digits + 2:
        return None
    return stripped[digits + 2:]


def sh_quote(word: str) -> str:
    if word and all(c.isalnum() or c in "@%+=:,./_-" for c in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def _fish_quote(word: str) -> str:
    if word and all(c.isalnum() or c in "@%+=:,./_-" for c in word):
        return word
    return "'" + word.replace("\\", "\\\\").replace("'", "\\'") + "'"

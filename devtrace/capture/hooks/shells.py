"""The shell hooks: the scripts `devtrace hook bash|zsh|fish` prints, and the commands they
report: spool records (see devtrace.capture.spool) read by the drainer.

Hooks printed before the spool (DevTrace 0.4 and older, still loaded in shells started before an
upgrade) start a writer, `devtrace hook record SHELL`, that reads one report on its stdin: each
shell sends one header line, `STATUS START_US DURATION_US SESSION` (START_US is 0 where
the shell has no clock builtin: fish, whose command then ended when it started the writer), then the command line: for bash, the `history 1`
entry it was read from; for zsh and fish, the line itself. bash under ble.sh has the line itself
too (from ble.sh's PREEXEC hook) and says so with a fifth word, `line`.
"""

import os
import time

from devtrace.capture.hooks import SHELLS
from devtrace.capture.hooks.writer import Finished
from devtrace.capture.identity import AGENT_ENVIRONMENT

_SCRIPTS = {"bash": "hook.bash", "zsh": "hook.zsh", "fish": "hook.fish"}


def script(shell: str, path: str | None = None) -> str:
    """The script to load in the shell's rc file. Its store is resolved now, to an absolute
    path (a relative $DEVTRACE_PATH must not make a store in every folder the shell visits),
    and its drainer is this interpreter's DevTrace by absolute path (see drainer.argv), so the
    hook works whatever PATH or virtualenv is active later."""
    from devtrace.capture import drainer
    from devtrace.capture.hooks.writer import store_path

    with open(os.path.join(os.path.dirname(__file__), _SCRIPTS[shell]), encoding="utf-8") as f:
        text = f.read()
    quote = _fish_quote if shell == "fish" else sh_quote
    # A shell inside a coding agent records nothing: the agent's own hook records its commands.
    if shell == "fish":
        agent_variables = "".join(f'"${name}"' for name in AGENT_ENVIRONMENT)
    else:
        agent_variables = '"' + "".join(f"${{{name}-}}" for name in AGENT_ENVIRONMENT) + '"'
    store = store_path(path)
    return (text.replace("@DRAINER@", " ".join(quote(word) for word in drainer.argv(store)))
            .replace("@STORE@", quote(store))
            .replace("@AGENT_VARIABLES@", agent_variables))


def from_record(record) -> Finished | None:
    """The command of a `shell` spool record (see devtrace.capture.spool), None if it is not one."""
    words = record.words
    if len(words) < 7 or words[0] not in SHELLS or words[1] not in ("line", "history", "fc", "fc-posix"):
        return None
    shell, form, status, start, took, session = words[:6]
    cwd, nul, text = record.body.partition(b"\0")
    if not nul or not (status.isdigit() or status == "-"):
        return None
    line = text.decode("utf-8", "surrogateescape")
    if form.startswith("fc"):  # bash's `fc -ln N N`: a tab, a space (none in posix mode), the entry
        lead = "\t" if form == "fc-posix" else "\t "
        if not line.startswith(lead):
            return None
        line = line[len(lead):]
    elif form == "history":
        line = _history_entry(line)
        if line is None:
            return None
    duration_us = int(took) if took.isdigit() else None
    ended_at = record.mtime  # written when the command ended
    if start.isdigit() and duration_us is not None:
        ended_at = (int(start) + duration_us) / 1e6
        # A clock a shell's options broke (KSH_ARRAYS, IFS, an unloaded module) is not the
        # command's: the command ended before its record was written, and not long before.
        if not record.mtime - 86400 * 366 < ended_at <= record.mtime + 1:
            ended_at, duration_us = record.mtime, None
    if duration_us is not None and duration_us > 86400e6 * 366:
        duration_us = None
    return Finished(
        shell, line.rstrip("\n"), exit_code=int(status) if status.isdigit() else None, timed_out=False,
        duration_ms=None if duration_us is None else round(duration_us / 1000), ended_at=ended_at,
        session=session, cwd=cwd.decode("utf-8", "surrogateescape") or "/", agent_id=None, author_kind="human",
        started_at=None if duration_us is None else ended_at - duration_us / 1e6,
    )


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

"""`devtrace hook record SOURCE [--path P]`: the program every hook calls, shell or agent.

It reads the report on stdin and exits 0 whatever happens, writing nothing to stdout (an
agent reads a hook's stdout as instructions, and a failing hook would show up in its loop).
For an agent it detaches at once: the agent waits only for the read and a fork, the event is
written by the detached child. A shell's writer is already detached by the shell. Problems
go to `<store>/hooks.log` as one line naming what failed, never the command.
"""

# The C module under `signal`: `signal` itself imports enum, functools and collections, a
# few milliseconds of the time an agent waits for this hook.
import _signal
import os
import time

from devtrace import paths
from devtrace.capture.hooks import SHELLS

MAX_PAYLOAD = 64 * 1024 * 1024  # an agent's payload holds the command's output


def main(args: list[str]) -> None:
    """Never returns: exits 0."""
    called_at = time.time()  # before anything else: a Pre/Post pair is timed by it
    path = None
    try:
        for sig in (_signal.SIGINT, _signal.SIGHUP, _signal.SIGPIPE):
            _signal.signal(sig, _signal.SIG_IGN)  # a Ctrl-C or closed terminal must not cost the event
        source = args[0] if args else ""
        if len(args) == 3 and args[1] == "--path":
            path = args[2]
        data = _read_stdin()
        if source not in SHELLS:
            _detach()
        else:
            _leave_terminal()
        _record(source, data, path, called_at)
    except BaseException as exc:  # the hook never fails its shell or agent
        _log(path, exc)
    os._exit(0)


def _record(source: str, data: bytes, path: str | None, called_at: float) -> None:
    from devtrace.capture.hooks import writer

    if source in SHELLS:
        from devtrace.capture.hooks import shells

        report: writer.Finished | writer.Started | writer.TurnEnded | None = shells.parse(source, data)
    else:
        from devtrace.capture.hooks import agents

        if source not in agents.REGISTRY:
            raise ValueError("unknown hook source")
        report = agents.parse(source, data, called_at)
    if report is not None:
        writer.write(report, path)


def _read_stdin() -> bytes:
    chunks, size = [], 0
    while size < MAX_PAYLOAD:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _detach() -> None:
    """Fork; the parent exits 0 once the child has let go of the agent's pipes, so the agent
    sees the hook end (exit and EOF on stdout/stderr) within a fork's time."""
    ready_r, ready_w = os.pipe()
    if os.fork():
        os.close(ready_w)
        os.read(ready_r, 1)  # EOF when the child has closed its copy
        os._exit(0)
    os.close(ready_r)
    _leave_terminal()
    os.close(ready_w)


def _leave_terminal() -> None:
    """Own session, stdio on /dev/null: no terminal signal or closed pipe reaches the writer.
    A lower priority (niceness at least 10; a shell's writer starts under `nice -n 10`): on a
    busy machine the shell drawing its prompt goes first."""
    try:
        os.setsid()
    except OSError:  # already a group leader
        pass
    os.nice(max(10 - os.nice(0), 0))
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _log(path: str | None, exc: BaseException) -> None:
    """One line: when, and the kind of failure (a SQLite or OS message, which names no command)."""
    import sqlite3

    from devtrace.errors import DevtraceError

    if isinstance(exc, OSError):
        reason = f"{type(exc).__name__}: {exc.strerror or ''}"
    elif isinstance(exc, (sqlite3.Error, DevtraceError)):
        reason = f"{type(exc).__name__}: {exc}"
    else:
        reason = type(exc).__name__
    try:
        from devtrace.capture.hooks.writer import store_path

        fd = os.open(os.path.join(store_path(path), paths.HOOKS_LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {reason}\n")
    except OSError:
        pass

"""`devtrace hook record SOURCE [--path P]`: what the hooks of earlier DevTrace versions call,
still loaded in a running shell or installed in an agent's settings until `devtrace hook
install` runs again (today's shell hooks and agent hook, agent.sh, spool without Python).

It reads the report on stdin and exits 0 whatever happens, writing nothing to stdout (an
agent reads a hook's stdout as instructions, and a failing hook would show up in its loop).
An agent's payload is spooled as agent.sh spools it, for the drainer. A shell's writer is
detached by the shell and writes its event itself. Problems go to `<store>/hooks.log` as one
line naming what failed, never the command.
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
    path = None
    try:
        for sig in (_signal.SIGINT, _signal.SIGHUP, _signal.SIGPIPE):
            _signal.signal(sig, _signal.SIG_IGN)  # a Ctrl-C or closed terminal must not cost the event
        source = args[0] if args else ""
        if len(args) == 3 and args[1] == "--path":
            path = args[2]
        data = _read_stdin()
        if source not in SHELLS:
            _spool(source, data, path)
        else:
            _leave_terminal()
            _record(source, data, path)
    except BaseException as exc:  # the hook never fails its shell or agent
        _log(path, exc)
    os._exit(0)


def _record(shell: str, data: bytes, path: str | None) -> None:
    from devtrace.capture.hooks import shells, writer

    report = shells.parse(shell, data)
    if report is not None:
        writer.write(report, path)


def _spool(agent: str, data: bytes, path: str | None) -> None:
    """An agent's payload as an `agent AGENT` spool record, and a drainer if none is alive."""
    from devtrace.capture import drainer, spool
    from devtrace.capture.hooks.agents import NAMES

    if agent not in NAMES:
        raise ValueError("unknown hook source")
    directory = os.path.abspath(os.path.expanduser(path or os.environ.get("DEVTRACE_PATH") or paths.DEFAULT_DIR))
    os.makedirs(directory, 0o700, exist_ok=True)
    spool.write(directory, f"agent.py{os.getpid()}.{time.time_ns()}", "agent", [agent], data)
    drainer.ensure(directory)


def _read_stdin() -> bytes:
    chunks, size = [], 0
    while size < MAX_PAYLOAD:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


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

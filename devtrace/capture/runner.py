"""Run a command as if it were run bare: same terminal, same streams, same exit status.

The command gets its own process group, so a timeout can stop the whole tree
(grandchildren included). On a terminal, that group is made the terminal's foreground
group for the duration, so Ctrl-C, Ctrl-Z, prompts and full-screen programs reach the
command exactly as they would without DevTrace; signals sent to DevTrace itself
(SIGINT, SIGTERM, SIGHUP, SIGQUIT) are forwarded to the command.
"""

import os
import signal
import subprocess
import time

GRACE_S = 2.0
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
EXIT_TIMEOUT = 124
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127


class Outcome:
    __slots__ = ("exit_code", "timed_out", "started_at", "duration_ms", "error")

    def __init__(self, exit_code: int, timed_out: bool, started_at: float, duration_ms: int, error: str | None):
        self.exit_code = exit_code
        self.timed_out = timed_out
        self.started_at = started_at
        self.duration_ms = duration_ms
        self.error = error  # why the command could not start, for the user


class Signals:
    """Installed first thing: from then on INT/TERM/HUP/QUIT go to the command while it
    runs and never interrupt DevTrace halfway through recording an event."""

    def __init__(self) -> None:
        self.pgid: int | None = None
        self.pending: list[int] = []
        for sig in FORWARDED:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame) -> None:
        if self.pgid is None:
            self.pending.append(signum)
        else:
            _killpg(self.pgid, signum)

    def attach(self, pgid: int) -> None:
        self.pgid = pgid
        for signum in self.pending:
            _killpg(pgid, signum)
        self.pending.clear()

    def detach(self) -> None:
        self.pgid = None


def run(argv: list[str], signals: Signals, timeout: float | None = None) -> Outcome:
    tty = _foreground_tty()
    started_at = time.time()
    t0 = time.perf_counter()
    try:
        if tty is None:  # no preexec_fn: Python can then use vfork, much cheaper than fork
            proc = subprocess.Popen(argv, process_group=0)
        else:
            proc = subprocess.Popen(argv, preexec_fn=_take_terminal(tty))
    except FileNotFoundError:
        return _failed(EXIT_NOT_FOUND, f"command not found: {argv[0]}", started_at, t0, tty)
    except PermissionError:
        return _failed(EXIT_CANNOT_EXECUTE, f"permission denied: {argv[0]}", started_at, t0, tty)
    except OSError as exc:
        return _failed(EXIT_CANNOT_EXECUTE, f"cannot execute {argv[0]}: {exc.strerror}", started_at, t0, tty)

    pgid = proc.pid
    if tty is not None:
        _set_foreground(tty, pgid)  # the child did it too; whoever runs first wins the race
    signals.attach(pgid)
    timer = _Timer(pgid, timeout) if timeout else None
    try:
        status = _wait(proc.pid, pgid, tty)
    finally:
        if timer:
            timer.cancel()
        signals.detach()
        if tty is not None:
            _set_foreground(tty, os.getpgrp())
            os.close(tty)
    proc.returncode = status  # reaped by us, so Popen does not try again
    timed_out = bool(timer and timer.fired)
    if timed_out:
        timer.finish()
    duration_ms = round((time.perf_counter() - t0) * 1000)
    if timed_out:
        exit_code = EXIT_TIMEOUT
    elif status < 0:
        exit_code = 128 - status  # killed by signal N -> 128 + N, as shells report it
    else:
        exit_code = status
    return Outcome(exit_code, timed_out, started_at, duration_ms, None)


def _failed(code: int, message: str, started_at: float, t0: float, tty: int | None) -> Outcome:
    if tty is not None:
        os.close(tty)
    return Outcome(code, False, started_at, round((time.perf_counter() - t0) * 1000), message)


def _wait(pid: int, pgid: int, tty: int | None) -> int:
    while True:
        _, status = os.waitpid(pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            return os.waitstatus_to_exitcode(status)
        if tty is not None:  # Ctrl-Z: stop as the bare command would, resume it with us
            _set_foreground(tty, os.getpgrp())
            os.kill(os.getpid(), signal.SIGSTOP)
            if os.tcgetpgrp(tty) == os.getpgrp():  # resumed with `fg`, not `bg`
                _set_foreground(tty, pgid)
            _killpg(pgid, signal.SIGCONT)


class _Timer:
    """SIGALRM-driven timeout: TERM to the whole group, then KILL after a grace period."""

    def __init__(self, pgid: int, timeout: float) -> None:
        self.pgid = pgid
        self.fired = False
        self.term_at = 0.0
        signal.signal(signal.SIGALRM, self._alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)

    def _alarm(self, signum: int, frame) -> None:
        if not self.fired:
            self.fired = True
            self.term_at = time.monotonic()
            _killpg(self.pgid, signal.SIGTERM)
            _killpg(self.pgid, signal.SIGCONT)  # a stopped process cannot act on TERM
            signal.setitimer(signal.ITIMER_REAL, GRACE_S)
        else:
            _killpg(self.pgid, signal.SIGKILL)

    def cancel(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    def finish(self) -> None:
        """The command is gone; give what is left of its group the rest of the grace, then KILL."""
        deadline = self.term_at + GRACE_S
        while _group_alive(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
        _killpg(self.pgid, signal.SIGKILL)


def _foreground_tty() -> int | None:
    """A descriptor of our controlling terminal if we are its foreground job, else None."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.tcgetpgrp(fd) == os.getpgrp():
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _take_terminal(tty: int):
    def setup() -> None:  # runs in the child between fork and exec
        os.setpgid(0, 0)
        _set_foreground(tty, os.getpgrp())

    return setup


def _set_foreground(tty: int, pgid: int) -> None:
    # A process outside the foreground group gets SIGTTOU for tcsetpgrp unless it ignores it.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(tty, pgid)
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTTOU, previous)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

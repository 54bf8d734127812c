"""Run a command as if it were run bare: same terminal, same streams, same exit status.

Where the command runs, and who delivers signals to it:

- DevTrace leads its own process group (a shell job, or a harness that gave it a session)
  or has a timeout: the command gets a process group of its own, so a timeout can stop the
  whole tree, grandchildren included, and every signal sent to DevTrace (INT, TERM, HUP,
  QUIT) is forwarded to that group. If DevTrace is the terminal's foreground job, the
  command's group becomes the foreground for the duration: Ctrl-C, Ctrl-Z, prompts and
  full-screen programs reach it exactly as without DevTrace.
- Otherwise (started by make, xargs, a script: DevTrace shares its caller's group) the
  command stays in that group, like `system(3)`, so Ctrl-C and a kill of the group reach
  it and its siblings alike and no terminal is taken from them. TERM and HUP sent to
  DevTrace are forwarded; INT and QUIT too, unless the keyboard sent them (DevTrace is
  then in the terminal's foreground group, and the command already has them).

Signals the caller ignores (nohup, `&` in a script) stay ignored, for the command too.
"""

import errno
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
        self.pid: int | None = None
        self.own_group = False
        self.keyboard = False  # INT/QUIT come from the terminal to the command as well
        self.pending: list[int] = []
        for sig in FORWARDED:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame) -> None:
        if self.pid is None:
            self.pending.append(signum)
        else:
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        if self.own_group:
            _killpg(self.pid, signum)
        elif not (self.keyboard and signum in (signal.SIGINT, signal.SIGQUIT)):
            try:
                os.kill(self.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def attach(self, pid: int, own_group: bool, keyboard: bool) -> None:
        self.pid, self.own_group, self.keyboard = pid, own_group, keyboard
        for signum in self.pending:
            self._forward(signum)
        self.pending.clear()

    def detach(self) -> None:
        self.pid = None


def run(argv: list[str], signals: Signals, timeout: float | None = None) -> Outcome:
    own_group = os.getpgrp() == os.getpid() or timeout is not None
    terminal = _controlling_tty()
    foreground = terminal is not None and _is_foreground(terminal)
    tty = terminal if own_group and foreground else None
    if terminal is not None and tty is None:
        os.close(terminal)
    started_at = time.time()
    t0 = time.perf_counter()
    try:
        proc = _spawn(argv, tty, own_group)
    except FileNotFoundError:
        return _failed(EXIT_NOT_FOUND, _not_found(argv[0]), started_at, t0, tty)
    except PermissionError:
        return _failed(EXIT_CANNOT_EXECUTE, f"permission denied: {argv[0]}", started_at, t0, tty)
    except OSError as exc:
        return _failed(EXIT_CANNOT_EXECUTE, f"cannot execute {argv[0]}: {exc.strerror}", started_at, t0, tty)

    if tty is not None:
        _set_foreground(tty, proc.pid)  # the child did it too; whoever runs first wins the race
    signals.attach(proc.pid, own_group, keyboard=foreground and not own_group)
    timer = _Timer(proc.pid, timeout) if timeout else None
    try:
        status = _wait(proc.pid, tty)
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


def _spawn(argv: list[str], tty: int | None, own_group: bool) -> subprocess.Popen:
    if not argv[0]:
        raise FileNotFoundError(argv[0])
    try:
        if tty is not None:
            return subprocess.Popen(argv, preexec_fn=_take_terminal(tty))
        # Without preexec_fn Python can use vfork, much cheaper than fork.
        return subprocess.Popen(argv, process_group=0 if own_group else None)
    except OSError as exc:
        if exc.errno != errno.ENOEXEC:
            raise
        import shutil

        # A script without a shebang: shells and execvp(3) run it with /bin/sh.
        return _spawn(["/bin/sh", shutil.which(argv[0]) or argv[0], *argv[1:]], tty, own_group)


def _not_found(program: str) -> str:
    """bash's distinction: a missing program, or a script whose interpreter is missing."""
    if os.sep in program and os.path.isfile(program):
        return f"bad interpreter: {program} names an interpreter that does not exist"
    return f"command not found: {program}"


def _failed(code: int, message: str, started_at: float, t0: float, tty: int | None) -> Outcome:
    if tty is not None:
        os.close(tty)
    return Outcome(code, False, started_at, round((time.perf_counter() - t0) * 1000), message)


def _wait(pid: int, tty: int | None) -> int:
    while True:
        _, status = os.waitpid(pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            return os.waitstatus_to_exitcode(status)
        if tty is not None:  # Ctrl-Z: stop as the bare command would, resume it with us
            _set_foreground(tty, os.getpgrp())
            os.kill(os.getpid(), signal.SIGSTOP)
            if os.tcgetpgrp(tty) == os.getpgrp():  # resumed with `fg`, not `bg`
                _set_foreground(tty, pid)
            _killpg(pid, signal.SIGCONT)


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


def _controlling_tty() -> int | None:
    """A descriptor of our controlling terminal, or None without one."""
    try:
        return os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None


def _is_foreground(tty: int) -> bool:
    try:
        return os.tcgetpgrp(tty) == os.getpgrp()
    except OSError:
        return False


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

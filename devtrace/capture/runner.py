"""Run a command as if it were run bare: same terminal, same streams, same descriptors,
same job, same exit status.

Where the command runs, and who delivers signals to it:

- Without a timeout the command stays in DevTrace's process group, like `system(3)`: it is
  part of the caller's job. The terminal's Ctrl-C, Ctrl-Z and `fg`, a shell's `kill %1`, a
  harness killing its process group, all reach DevTrace and the command together, and a
  pipeline partner (`devtrace run -- cat f | less`) keeps the terminal it shares with them.
  TERM and HUP sent to DevTrace alone are forwarded; INT, QUIT and TSTP too, unless the job
  is the terminal's foreground (the keyboard sent them to the command as well). They go to
  the command's whole tree when DevTrace leads a job holding nothing else (a harness's
  session, a shell job that is not a pipeline), else to the command alone.
- With a timeout the command gets a process group of its own, so that the timeout can stop
  its whole tree, grandchildren included, and every signal sent to DevTrace (INT, TERM, HUP,
  QUIT, TSTP) is forwarded to that group. DevTrace hands it the terminal only when DevTrace
  is the foreground job's leader and alone in that job (not in a pipeline).

Either way, DevTrace does not stop on Ctrl-Z itself: when the command stops (Ctrl-Z, a
background read of the terminal), DevTrace then stops with the same signal, so the shell
sees its job stop as it would bare, never before the command has; continued, it continues
the command. Signals the caller ignores (nohup, `&` in a script) stay ignored, for
the command too. Every descriptor DevTrace inherited is passed on (process substitution's
/dev/fd/63, `3>file`, make's jobserver); DevTrace's own are close-on-exec.
"""

import errno
import os
import signal
import subprocess
import time

GRACE_S = 2.0
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_KEYBOARD = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP)  # what a terminal sends its foreground job
EXIT_TIMEOUT = 124
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127


class Outcome:
    __slots__ = ("exit_code", "timed_out", "started_at", "duration_ms", "error", "killed_by")

    def __init__(self, exit_code: int, timed_out: bool, started_at: float, duration_ms: int, error: str | None,
                 killed_by: int | None = None):
        self.exit_code = exit_code
        self.timed_out = timed_out
        self.started_at = started_at
        self.duration_ms = duration_ms
        self.error = error  # why the command could not start, for the user
        self.killed_by = killed_by  # the signal that killed the command, which DevTrace then dies of


class Signals:
    """Installed first thing: from then on INT/TERM/HUP/QUIT go to the command while it
    runs and never interrupt DevTrace halfway through recording an event."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.own_group = False
        self.tty: int | None = None
        self.pending: list[int] = []
        for sig in FORWARDED:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame) -> None:
        if self.pid is None:
            self.pending.append(signum)
        else:
            self._forward(self.pid, signum)

    def _forward(self, pid: int, signum: int) -> None:
        if self.own_group:
            _killpg(pid, signum)
        elif signum in _KEYBOARD and self.tty is not None and _is_foreground(self.tty):
            pass  # the terminal sent it to the whole foreground job, the command included
        elif _job_is_ours(pid):  # a harness's session, a shell job that is not a pipeline
            _signal_job(signum)
        else:
            _kill(pid, signum)

    def catch_stops(self) -> None:
        """From just before the command starts, Ctrl-Z is the command's too: DevTrace stops
        only once the command has stopped (see _wait), never before it, or the shell would
        take the terminal back while the command may still read from it."""
        if signal.getsignal(signal.SIGTSTP) is signal.SIG_DFL:
            signal.signal(signal.SIGTSTP, self._handle)

    def attach(self, pid: int, own_group: bool, tty: int | None) -> None:
        """From now on signals go to the command."""
        self.pid, self.own_group, self.tty = pid, own_group, tty
        for signum in self.pending:
            self._forward(pid, signum)
        self.pending.clear()

    def detach(self) -> None:
        if signal.getsignal(signal.SIGTSTP) == self._handle:
            signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        self.pid = self.tty = None


def run(argv: list[str], signals: Signals, timeout: float | None = None) -> Outcome:
    own_group = timeout is not None
    tty = _controlling_tty()
    lead = own_group and tty is not None and _leads_alone()  # may hand the terminal to the command
    give = lead and tty is not None and _is_foreground(tty)
    started_at = time.time()
    t0 = time.perf_counter()
    signals.catch_stops()
    try:
        proc = _spawn(argv, tty if give else None, own_group)
    except OSError as exc:
        signals.detach()
        if tty is not None:
            os.close(tty)
        code, message = _not_started(argv[0], exc)
        return Outcome(code, False, started_at, round((time.perf_counter() - t0) * 1000), message)

    if give and tty is not None:
        _set_foreground(tty, proc.pid)  # the child did it too; whoever runs first wins the race
    signals.attach(proc.pid, own_group, tty)
    timer = _Timer(proc.pid, timeout) if timeout else None
    try:
        status = _wait(proc.pid, own_group, tty, lead)
    finally:
        if timer:
            timer.cancel()
        signals.detach()
        if tty is not None:
            if lead and _foreground_group(tty) == proc.pid:
                _set_foreground(tty, os.getpgrp())
            os.close(tty)
    proc.returncode = status  # reaped by us, so Popen does not try again
    timed_out = bool(timer and timer.fired)
    if timer and timed_out:
        timer.finish()
    duration_ms = round((time.perf_counter() - t0) * 1000)
    if timed_out:
        return Outcome(EXIT_TIMEOUT, True, started_at, duration_ms, None)
    if status < 0:  # killed by signal N: 128 + N, as shells report it
        return Outcome(128 - status, False, started_at, duration_ms, None, killed_by=-status)
    return Outcome(status, False, started_at, duration_ms, None)


def die_of(signum: int) -> None:
    """End DevTrace by the signal that ended the command, so that its caller sees what it
    would have seen bare (a shell stops its loop on a child killed by SIGINT, and reports
    141 for SIGPIPE). Exits 128 + N if the signal does not end the process."""
    if signum in (signal.SIGQUIT, signal.SIGILL, signal.SIGABRT, signal.SIGFPE, signal.SIGSEGV, signal.SIGBUS,
                  signal.SIGSYS, signal.SIGTRAP, signal.SIGXCPU, signal.SIGXFSZ):
        import resource

        try:  # the command's core dump, if any, is its own; DevTrace's would only mislead
            resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        except (OSError, ValueError):
            pass
    try:
        signal.signal(signum, signal.SIG_DFL)
    except (OSError, ValueError):
        pass  # SIGKILL: no handler to restore
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        os.kill(os.getpid(), signum)
    except (OSError, ValueError):
        pass
    os._exit(128 + signum)


def _spawn(argv: list[str], tty: int | None, own_group: bool) -> subprocess.Popen:
    if not argv[0]:
        raise FileNotFoundError(argv[0])
    try:
        # close_fds=False: the command inherits every descriptor DevTrace inherited, as from
        # a shell; DevTrace's own descriptors are all close-on-exec.
        if tty is not None:
            return subprocess.Popen(argv, close_fds=False, preexec_fn=_take_terminal(tty))
        # Without preexec_fn Python can use vfork or posix_spawn, much cheaper than fork.
        return subprocess.Popen(argv, close_fds=False, process_group=0 if own_group else None)
    except OSError as exc:
        if exc.errno != errno.ENOEXEC:
            raise
        import shutil

        # A script without a shebang: shells and execvp(3) run it with /bin/sh.
        return _spawn(["/bin/sh", shutil.which(argv[0]) or argv[0], *argv[1:]], tty, own_group)


def _not_started(program: str, exc: OSError) -> tuple[int, str]:
    """The exit status and sentence a shell gives for a command it cannot start."""
    if isinstance(exc, FileNotFoundError):
        if os.sep in program and os.path.isfile(program):  # bash's distinction: a missing interpreter
            return EXIT_NOT_FOUND, f"bad interpreter: {program} names an interpreter that does not exist"
        return EXIT_NOT_FOUND, f"command not found: {program}"
    if isinstance(exc, PermissionError):
        return EXIT_CANNOT_EXECUTE, f"permission denied: {program}"
    return EXIT_CANNOT_EXECUTE, f"cannot execute {program}: {exc.strerror}"


def _wait(pid: int, own_group: bool, tty: int | None, lead: bool) -> int:
    while True:
        _, status = os.waitpid(pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            return os.waitstatus_to_exitcode(status)
        # Stopped and still stopped (not continued meanwhile by its job's `fg`): stop with it.
        if tty is not None and _still_stopped(pid):
            if lead and _foreground_group(tty) == pid:
                _set_foreground(tty, os.getpgrp())
            _stop_like(os.WSTOPSIG(status))
            if lead and _is_foreground(tty):  # resumed with `fg`, not `bg`
                _set_foreground(tty, pid)
            if own_group:
                _killpg(pid, signal.SIGCONT)
            else:
                _kill(pid, signal.SIGCONT)


def _stop_like(signum: int) -> None:
    """Stop DevTrace by `signum` until something continues it (its shell's `fg` or `bg`).
    In an orphaned process group the kernel drops TSTP/TTIN/TTOU: DevTrace then goes on."""
    previous = signal.signal(signum, signal.SIG_DFL) if signum != signal.SIGSTOP else None
    try:
        os.kill(os.getpid(), signum)
    finally:
        if previous is not None:
            signal.signal(signum, previous)


def _still_stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"T"
    except (OSError, IndexError):
        return False


def _job_is_ours(child: int) -> bool:
    """DevTrace leads its process group and everything else in it descends from `child`:
    the job is DevTrace and its command's tree (no pipeline partner, no unrelated caller)."""
    me = os.getpid()
    if os.getpgrp() != me:
        return False
    parents, members = {}, []
    for pid, ppid, pgrp in _processes():
        parents[pid] = ppid
        if pgrp == me and pid != me:
            members.append(pid)
    for pid in members:
        while pid not in (child, 0, 1) and pid in parents:
            pid = parents[pid]
        if pid != child:
            return False
    return True


def _signal_job(signum: int) -> None:
    """The signal to DevTrace's whole job but DevTrace itself (the kernel drops a signal its
    receiver ignores at the moment it is sent)."""
    previous = signal.signal(signum, signal.SIG_IGN)
    try:
        _killpg(os.getpgrp(), signum)
    finally:
        signal.signal(signum, previous)


def _processes():
    """(pid, parent pid, process group) of every process that can be read in /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                yield int(entry), int(fields[1]), int(fields[2])
            except (OSError, IndexError, ValueError):
                continue


def _leads_alone() -> bool:
    """DevTrace leads its process group and no other process is in it (not a pipeline)."""
    me = os.getpid()
    return os.getpgrp() == me and not any(pgrp == me and pid != me for pid, _, pgrp in _processes())


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


def _foreground_group(tty: int) -> int | None:
    try:
        return os.tcgetpgrp(tty)
    except OSError:
        return None


def _is_foreground(tty: int) -> bool:
    return _foreground_group(tty) == os.getpgrp()


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


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


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

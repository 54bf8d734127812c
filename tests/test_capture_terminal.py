"""On a real terminal (a pty), the command owns the terminal as if run bare."""

import os
import pty
import select
import sys
import time
from pathlib import Path

from tests.support import devtrace_env, rows


def spawn_on_pty(args: list[str], cwd: Path) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader with the pty as its controlling terminal
        os.chdir(cwd)
        os.execvpe(sys.executable, [sys.executable, "-m", "devtrace", *args], devtrace_env())
    return pid, fd


def read_until(fd: int, needle: bytes, timeout: float = 10.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"never saw {needle!r}; got {seen!r}"
        if select.select([fd], [], [], remaining)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def wait_exit(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_interactive_prompt_reads_from_the_terminal(repo, store):
    pid, fd = spawn_on_pty(
        ["run", "--keep-noop", "--path", str(store), "--", "sh", "-c", "printf 'name? '; read x; echo hello-$x"],
        repo,
    )
    read_until(fd, b"name? ")
    os.write(fd, b"world\n")
    output = read_until(fd, b"devtrace: exit 0")
    assert b"hello-world" in output
    assert wait_exit(pid) == 0
    os.close(fd)
    assert rows(store)[0]["exit_code"] == 0


def test_ctrl_c_on_the_terminal_stops_the_command_and_is_recorded(repo, store):
    pid, fd = spawn_on_pty(
        ["run", "--keep-noop", "--path", str(store), "--", "sh", "-c", "echo started; exec sleep 60"], repo
    )
    read_until(fd, b"started")
    os.write(fd, b"\x03")  # Ctrl-C: the terminal signals its foreground process group
    output = read_until(fd, b"devtrace: exit 130")
    assert b"Traceback" not in output
    assert wait_exit(pid) == 130
    os.close(fd)
    assert rows(store)[0]["exit_code"] == 130


def test_command_sees_a_terminal(repo, store):
    pid, fd = spawn_on_pty(
        ["run", "--keep-noop", "--quiet", "--path", str(store), "--", "sh", "-c", "test -t 0 && test -t 1 && echo tty-ok"],
        repo,
    )
    assert b"tty-ok" in read_until(fd, b"tty-ok")
    assert wait_exit(pid) == 0
    os.close(fd)

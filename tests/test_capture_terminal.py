"""On a real terminal (a pty), the command owns the terminal as if run bare."""

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

from tests.support import devtrace_env, rows, wait_until


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
    assert wait_exit(pid) == -signal.SIGINT
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


def test_ctrl_c_reaches_parallel_captures_and_their_caller(repo, store, tmp_path):
    """make -j / xargs -P style: captures share their caller's group and none takes the terminal."""
    script = tmp_path / "parallel.py"
    script.write_text(
        "import subprocess, sys, time\n"
        f"args = [sys.executable, '-m', 'devtrace', 'run', '--keep-noop', '--quiet', '--path', {str(store)!r}, '--', 'sleep', '30']\n"
        "procs = [subprocess.Popen(args) for _ in range(2)]\n"
        "print('started', flush=True)\n"
        "try:\n"
        "    codes = [p.wait() for p in procs]\n"
        "    print('no interrupt', codes, flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    codes = [p.wait() for p in procs]\n"
        "    print('interrupted', codes, flush=True)\n"
    )
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(repo)
        os.execvpe(sys.executable, [sys.executable, str(script)], devtrace_env())
    read_until(fd, b"started")
    wait_until(lambda: len(_sleeps_under(pid)) >= 2, "the two captures started their commands")
    started = time.monotonic()
    os.write(fd, b"\x03")
    output = read_until(fd, b"[-2, -2]")
    assert b"interrupted [-2, -2]" in output  # each capture died of SIGINT, as its command did
    assert time.monotonic() - started < 5
    wait_exit(pid)
    os.close(fd)
    assert [r["exit_code"] for r in rows(store)] == [130, 130]


def _sleeps_under(root: int) -> list[int]:
    """`sleep` processes among the descendants of `root`."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            names[int(entry)] = stat[stat.index("(") + 1: stat.rindex(")")]
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            if names.get(child) == "sleep":
                found.append(child)
    return found

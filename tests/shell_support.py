"""An interactive bash on a real pty, driven as a user at a keyboard would drive it."""

import os
import pty
import re
import select
import signal
import sys
import time
from pathlib import Path

from tests.support import devtrace_env

# What the shell prints after each line sent with `status=True`: the typed line is echoed
# as `printf 'R%sC\n' "$?"`, so only the shell's own output matches.
_STATUS = re.compile(rb"R(\d+)C")
_JOB_STATE = re.compile(rb"\[\d+\][+-]? +(Stopped(?: \([\w ]+\))?|Terminated|Done|Interrupt)")


class Bash:
    """`bash -i` (job control on) as the session leader of a new pty; `devtrace` is on PATH."""

    def __init__(self, cwd: Path, **env: str) -> None:
        environment = devtrace_env(PS1="$ ", TERM="dumb", **env)
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(cwd)
            os.execvpe("bash", ["bash", "--norc", "--noprofile", "--noediting", "-i"], environment)
        self.pid, self.fd = pid, fd
        self.seen = b""
        self.run(f"alias devtrace='{sys.executable} -m devtrace'; set -b")  # report a job's state change at once, not at the next prompt

    def send(self, data: bytes | str) -> None:
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def run(self, line: str, timeout: float = 20.0) -> int:
        """Type `line`, wait for the shell to come back, return `$?`."""
        self.send(f"{line}\n")
        return self.status(timeout)

    def status(self, timeout: float = 20.0) -> int:
        """`$?` of the last command the shell ran (or of the job it just saw stop)."""
        self.send("printf 'R%sC\\n' \"$?\"\n")
        return int(self.expect(_STATUS, timeout).group(1))

    def prompt(self, timeout: float = 20.0) -> None:
        """Wait for the shell's prompt: it is reading the terminal again."""
        self.expect(rb"(^|\n)\$ ", timeout)

    def job_state(self, timeout: float = 20.0) -> bytes:
        """The next job state bash reports: `Stopped`, `Stopped (tty input)`, `Terminated`..."""
        return self.expect(_JOB_STATE, timeout).group(1)

    def expect(self, pattern: bytes | re.Pattern, timeout: float = 20.0) -> re.Match:
        """Wait until the output since the last match matches the regex `pattern`; consume up to it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.seen)
            if found:
                self.seen = self.seen[found.end():]
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"never saw {regex.pattern!r}; the terminal shows {self.seen[-2000:]!r}")

    def quiet_for(self, seconds: float) -> bytes:
        """Everything the terminal shows during the next `seconds`."""
        deadline = time.monotonic() + seconds
        start = len(self.seen)
        while (remaining := deadline - time.monotonic()) > 0:
            self._read(remaining)
        return self.seen[start:]

    def _read(self, timeout: float) -> bool:
        if not select.select([self.fd], [], [], timeout)[0]:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:
            return False
        self.seen += chunk
        return bool(chunk)

    def close(self) -> None:
        """End the shell and everything still running on its terminal."""
        for group in _groups_of_session(self.pid):
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def _groups_of_session(sid: int) -> set[int]:
    groups = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:
                groups.add(int(fields[2]))
    return groups

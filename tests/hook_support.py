"""Real interactive shells on a real terminal (tmux), with DevTrace's hook loaded from rc files
in tmp_path: nothing is read from the user's own ~/.bashrc, ~/.zshrc or fish config."""

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import devtrace, rows

PROMPT = "DT> "
SHELL_PATH = os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"])


def drainer_argv(store: Path, setup: str) -> list[str]:
    """The real drainer's command (`drainer.argv`), running the Python statements `setup` (a
    test's value for one of its constants) before the drainer starts."""
    from devtrace.capture import drainer

    command = drainer.argv(str(store))
    code = command.index("-c") + 1
    start = "from devtrace.capture.drainer import main; "
    assert start in command[code]
    command[code] = command[code].replace(start, f"{setup}; {start}")
    return command


def require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"these tests need {', '.join(missing)} installed (Debian packages of the same names)")


class Shell:
    """One interactive shell in its own tmux server, its prompt `DT> `."""

    _count = 0

    def __init__(self, tmp_path: Path, shell: str, store: Path, cwd: Path, *, rc: str = "", loads: int = 1,
                 env: dict | None = None, after: str = ""):
        require("tmux", shell)
        Shell._count += 1
        self.socket = f"dt-{os.getpid()}-{Shell._count}"
        self.home = tmp_path / f"home-{Shell._count}"
        self.home.mkdir()
        (self.home / "tmp").mkdir()
        self.script = self.home / f"devtrace.{shell}"
        printed = devtrace("hook", shell, "--path", str(store), cwd=tmp_path)
        assert printed.returncode == 0, printed.stderr
        self.script.write_bytes(printed.stdout)
        self.argv = self.command(shell, rc, loads, after)
        base = {"HOME": str(self.home), "PATH": SHELL_PATH, "TERM": "xterm-256color", "LANG": "C.UTF-8",
                "TMPDIR": str(self.home / "tmp")}
        base.update(env or {})
        self.env = base
        self.tmux("new-session", "-d", "-x", "200", "-y", "50", "-c", str(cwd), "--",
                  "env", "-i", *[f"{k}={v}" for k, v in base.items()], *self.argv)
        self.wait_prompts(1)

    def command(self, shell: str, rc: str, loads: int, after: str) -> list[str]:
        """The rc file: `rc`, then the hook loaded `loads` times, then `after`."""
        load = {"bash": f'eval "$(cat {self.script})"', "zsh": f'eval "$(cat {self.script})"',
                "fish": f"cat {self.script} | source"}[shell]
        body = rc + "\n" + "\n".join([load] * loads) + "\n" + after + "\n"
        if shell == "bash":
            rcfile = self.home / ".bashrc"
            rcfile.write_text(f"PS1='{PROMPT}'\nHISTFILE={self.home}/.bash_history\nHISTCONTROL=ignoreboth\n{body}")
            return ["bash", "--noprofile", "--rcfile", str(rcfile), "-i"]
        if shell == "zsh":
            (self.home / ".zshrc").write_text(
                f"PS1='{PROMPT}'\nHISTFILE={self.home}/.zsh_history\nHISTSIZE=1000\nsetopt HIST_IGNORE_SPACE\n{body}"
            )
            return ["env", f"ZDOTDIR={self.home}", "zsh", "-i"]
        config = self.home / ".config" / "fish"
        config.mkdir(parents=True)
        (config / "config.fish").write_text(
            f"function fish_prompt; echo -n '{PROMPT}'; end\nfunction fish_greeting; end\n{body}"
        )
        return ["env", f"XDG_CONFIG_HOME={self.home}/.config", f"XDG_DATA_HOME={self.home}/.local/share",
                "fish", "-i"]

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-")

    def prompts(self) -> int:
        return self.screen().count(PROMPT)

    def wait_prompts(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.prompts() < count:
            assert time.monotonic() < deadline, f"the shell never showed prompt {count}:\n{self.screen()}"
            time.sleep(0.02)

    def type(self, line: str, wait: bool = True) -> None:
        before = self.prompts()
        if line:
            self.tmux("send-keys", "-t", "0", "-l", line)
        self.tmux("send-keys", "-t", "0", "Enter")
        if wait:
            self.wait_prompts(before + 1)

    def interrupt(self, line: str, after: float) -> None:
        before = self.prompts()
        self.type(line, wait=False)
        time.sleep(after)
        self.tmux("send-keys", "-t", "0", "C-c")
        self.wait_prompts(before + 1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture(name="shells")
def shells_fixture():
    """`shells`: the shells a test opens (append each, or use open_shell), closed after the
    test. A test module imports `shells_fixture` to have it."""
    opened: list[Shell] = []
    yield opened
    for shell in opened:
        shell.close()


def open_shell(shells: list, tmp_path: Path, name: str, store: Path, cwd: Path, **kwargs) -> Shell:
    shell = Shell(tmp_path, name, store, cwd, **kwargs)
    shells.append(shell)
    return shell


def wait_events(store: Path, count: int, timeout: float = 60.0) -> list:
    """The store's events once `count` have arrived (writers are detached), oldest first,
    and no hook writer of this store is left running that could still add one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(_events(store)) < count:
        time.sleep(0.05)
    wait_writers(store, deadline)
    found = _events(store)
    assert len(found) == count, f"expected {count} events, found {len(found)}"
    return found


def wait_writers(store: Path, deadline: float) -> None:
    """Until no hook writer (`devtrace hook record`, however started) of `store` runs and its
    spool holds no agent hook's record (the drainer has taken them all), seen twice 50 ms
    apart: a shell forks its writer before drawing the prompt, and the fork shows the
    writer's command line only once it has exec'd."""
    quiet = 0
    while quiet < 2:
        quiet = quiet + 1 if not hook_writers(store) and not agent_records(store) else 0
        assert time.monotonic() < deadline, \
            f"hook writers of {store} still running ({hook_writers(store)}), or records left ({agent_records(store)})"
        time.sleep(0.05)


def agent_records(store: Path) -> list[str]:
    """The agent hooks' complete records waiting in the store's spool (one a killed hook left
    incomplete is never drained: it is dropped after an hour)."""
    found = []
    try:
        names = os.listdir(store / "spool")
    except FileNotFoundError:
        return []
    for name in names:
        if name.startswith("agent.") and name.endswith(".rec"):
            try:
                if (store / "spool" / name).read_bytes().endswith(b"\x1e\n"):
                    found.append(name)
            except FileNotFoundError:
                continue
    return found


def hook_writers(store: Path) -> list[int]:
    """The pids of the processes running DevTrace's hook writer for `store` (named by its
    --path, or by DEVTRACE_PATH in their environment)."""
    found = []
    named = os.fsencode(store)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    words = f.read()
                if b"devtrace.capture.hooks.record import main" not in words and b"devtrace\0hook\0record\0" not in words:
                    continue
                if named not in words:
                    with open(f"/proc/{entry}/environ", "rb") as f:
                        if b"\0DEVTRACE_PATH=" + named + b"\0" not in b"\0" + f.read():
                            continue
            except OSError:
                continue
            found.append(int(entry))
    return found


def _events(store: Path) -> list:
    try:
        return rows(store, "SELECT * FROM command_events ORDER BY started_at")
    except sqlite3.OperationalError:  # no store yet, or the first writer is creating it
        return []


def files_containing(folder: Path, secret: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and secret in p.read_bytes()]

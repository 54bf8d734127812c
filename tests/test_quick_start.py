"""The quick start, typed as written into a real bash on a real terminal (tmux), by a new user:
a fresh home folder, DevTrace on PATH, the hook added to ~/.bashrc by the quick start itself."""

import re
import subprocess
import time
from pathlib import Path

from tests.hook_support import SHELL_PATH, require, wait_events
from tests.support import CHECKOUT, git

QUICK_START = CHECKOUT / "docs" / "quickstart.md"
PROMPT = "QS$ "
INSTALL = "pipx install devtrace"
"""The one line not typed: DevTrace is already on PATH (the venv under test), as after it."""


def quick_start_lines() -> list[str]:
    text = QUICK_START.read_text(encoding="utf-8")
    block = re.search(r"<!-- quick-start -->\n```bash\n(.*?)```\n<!-- /quick-start -->", text, re.S)
    assert block, f"no quick-start block in {QUICK_START}"
    return [line for line in block[1].splitlines() if line.strip() and not line.lstrip().startswith("#")]


class Terminal:
    """A bash in its own tmux server, started as a login to a fresh account would be."""

    def __init__(self, home: Path, socket: str):
        self.socket = socket
        env = {"HOME": str(home), "PATH": SHELL_PATH, "TERM": "xterm-256color", "LANG": "C.UTF-8",
               "USER": "newuser", "GIT_AUTHOR_NAME": "New User", "GIT_AUTHOR_EMAIL": "new@example.com",
               "GIT_COMMITTER_NAME": "New User", "GIT_COMMITTER_EMAIL": "new@example.com", "COLUMNS": "100"}
        self.tmux("new-session", "-d", "-x", "100", "-y", "50", "-c", str(home), "--",
                  "env", "-i", *[f"{k}={v}" for k, v in env.items()], "bash", "-i")
        self.wait_prompts(1)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-")

    def wait_prompts(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.screen().count(PROMPT) < count:
            assert time.monotonic() < deadline, f"the shell never showed prompt {count}:\n{self.screen()}"
            time.sleep(0.05)

    def type(self, line: str) -> None:
        before = self.screen().count(PROMPT)
        self.tmux("send-keys", "-t", "0", "-l", line)
        self.tmux("send-keys", "-t", "0", "Enter")
        self.wait_prompts(before + 1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def test_the_quick_start_as_typed_answers_where_the_time_went(tmp_path):
    require("tmux", "bash")
    lines = quick_start_lines()
    assert lines[0] == INSTALL
    home = tmp_path / "home"
    project = home / "src" / "your-project"
    project.mkdir(parents=True)
    # A new user's own rc file (their prompt), and their project: a test that fails.
    (home / ".bashrc").write_text(f"PS1='{PROMPT}'\nHISTFILE=~/.bash_history\n")
    (project / "test_calc.py").write_text("def test_add():\n    assert 1 + 1 == 3\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "start")
    terminal = Terminal(home, f"qs-{tmp_path.name}")
    try:
        for line in lines[1:]:
            if line == "devtrace top":  # as a person would, after the writers (detached) are done
                wait_events(home / ".devtrace", 4)  # cd, pytest -q twice, git status
            terminal.type(line)
        screen = terminal.screen()
    finally:
        terminal.close()
    # `devtrace top` answered: pytest's two failed runs, retried, lead the table by command.
    top = screen.split("devtrace top", 1)[1].split(PROMPT, 1)[0]
    assert re.search(r"in [45] commands since ", top), top
    assert re.search(r"\n\s*\d+%\s.*\s2\s+2\s.*pytest -q\n", top), top
    assert "git status" in top and "cd ~/src/your-project" in top
    assert "exec bash" not in top and "devtrace" not in top.split("command", 1)[1]  # DevTrace's own lines are not recorded
    events = screen.split("devtrace events", 1)[1].split(PROMPT, 1)[0]
    assert events.count("pytest -q") == 2 and "git status" in events
    assert (project / "report.html").stat().st_size > 10_000
    assert not (project / ".devtrace").exists() and (home / ".devtrace" / "devtrace.db").is_file()

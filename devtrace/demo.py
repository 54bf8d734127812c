"""`devtrace demo`: the product end to end on a scratch git repo and store.

Everything it does goes through the same commands a user runs, in real subprocesses.
"""

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "DevTrace Demo", "GIT_AUTHOR_EMAIL": "demo@devtrace.invalid",
    "GIT_COMMITTER_NAME": "DevTrace Demo", "GIT_COMMITTER_EMAIL": "demo@devtrace.invalid",
}

_TEST = [sys.executable, "-c", "import calc; assert calc.add(2, 2) == 4, 'add(2, 2) != 4'"]

# A short working session on a repo whose `add` is wrong: look around, test (fail, retry),
# fix, test again (pass), a command that hangs and is stopped, review the change.
_SESSION = [
    ("human", [], ["git", "status", "--short"]),
    ("agent", [], _TEST),
    ("agent", [], _TEST),
    ("agent", [], ["sed", "-i", "s/a - b/a + b/", "calc.py"]),
    ("agent", [], _TEST),
    ("agent", [], ["sh", "-c", "printf 'def sub(a, b):\\n    return a - b\\n' >> calc.py"]),
    ("agent", ["--timeout", "0.5"], ["sleep", "5"]),
    ("human", [], ["git", "diff", "--stat"]),
]


class Demo:
    def __init__(self, workdir: Path, console: Console) -> None:
        self.repo = workdir / "project"
        self.store = workdir / "store"
        self.console = console
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("DEVTRACE_")},
                    **_GIT_ENV, "DEVTRACE_PATH": str(self.store), "DEVTRACE_SESSION": "demo-session"}

    def devtrace(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "devtrace", *args], cwd=self.repo, env=self.env,
                              capture_output=True, text=True, check=check)

    def make_repo(self) -> None:
        self.repo.mkdir(parents=True)
        for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "start"]):
            if args[0] == "add":
                (self.repo / "README.md").write_text("# calc\n")
                (self.repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
            subprocess.run(["git", *args], cwd=self.repo, env=self.env, check=True)

    def capture(self) -> None:
        self.console.rule("1. Capture: devtrace run -- <command>")
        for agent, extra, command in _SESSION:
            done = self.devtrace("run", "--keep-noop", "--agent", agent, *extra, "--", *command, check=False)
            shown = shlex.join(Path(c).name if c == sys.executable else c for c in command)
            summary = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
            self.console.print(f"$ devtrace run -- {shown}", style="bold", markup=False, highlight=False)
            self.console.print(f"  {summary}", style="dim", markup=False, highlight=False, soft_wrap=True)

    def list_events(self) -> None:
        self.console.rule("2. The store: devtrace events")
        from devtrace import analytics
        from devtrace.render import print_events

        print_events(analytics.events(path=self.store), console=self.console)

    def next_steps(self) -> None:
        self.console.rule("Try next")
        self.console.print(
            f"  export DEVTRACE_PATH={self.store}\n"
            "  devtrace events --limit 5\n"
            "  devtrace export --format parquet --out events.parquet\n"
            "  devtrace run -- <any command you run anyway>"
        )


def run_demo(workdir: Path | None = None, console: Console | None = None) -> Path:
    """Run the whole demo; returns the store it filled."""
    console = console or Console()
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="devtrace-demo-"))
    demo = Demo(workdir, console)
    console.print(f"[bold]DevTrace demo[/] in {workdir} (a scratch git repo and store)")
    demo.make_repo()
    demo.capture()
    demo.list_events()
    demo.next_steps()
    return demo.store

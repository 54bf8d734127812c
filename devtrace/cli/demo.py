"""`devtrace demo`: the product end to end on a scratch git repo and store.

Everything it does goes through the same commands a user runs, in real subprocesses.
"""

import importlib.util
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from devtrace.cli.demo_central import teams

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "DevTrace Demo", "GIT_AUTHOR_EMAIL": "demo@devtrace.invalid",
    "GIT_COMMITTER_NAME": "DevTrace Demo", "GIT_COMMITTER_EMAIL": "demo@devtrace.invalid",
}

_TEST = [sys.executable, "test_calc.py"]

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
                    **_GIT_ENV, "DEVTRACE_PATH": str(self.store), "DEVTRACE_SESSION": "demo-session",
                    "COLUMNS": str(console.width)}

    def devtrace(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "devtrace", *args], cwd=self.repo, env=self.env,
                              capture_output=True, text=True, check=check)

    def make_repo(self) -> None:
        self.repo.mkdir(parents=True)
        for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "start"]):
            if args[0] == "add":
                (self.repo / "README.md").write_text("# calc\n")
                (self.repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
                (self.repo / "test_calc.py").write_text("import calc\n\nassert calc.add(2, 2) == 4, 'add(2, 2) != 4'\n")
            subprocess.run(["git", *args], cwd=self.repo, env=self.env, check=True)

    def capture(self) -> None:
        self.console.rule("1. Capture: devtrace run -- <command>")
        self.console.print(f"(Every command of the demo runs with DEVTRACE_PATH={self.store}, its throwaway store.)",
                           markup=False, highlight=False, soft_wrap=True)
        for agent, extra, command in _SESSION:
            args = ["run", "--agent", agent, *extra, "--", *command]
            done = self.devtrace(*args, check=False)
            shown = shlex.join(Path(c).name if c == sys.executable else c for c in args)
            summary = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
            self.console.print(f"$ devtrace {shown}", style="bold", markup=False, highlight=False)
            self.console.print(f"  {summary}", style="dim", markup=False, highlight=False, soft_wrap=True)

    def show(self, title: str, *args: str) -> subprocess.CompletedProcess:
        """Run `devtrace ARGS` as a user would and show the command with its output."""
        self.console.print(f"$ devtrace {shlex.join(args)}", style="bold", markup=False, highlight=False)
        done = self.devtrace(*args, check=False)
        self.console.out(done.stdout.rstrip("\n"), highlight=False)
        if done.returncode != 0:
            self.console.print(done.stderr.strip(), style="red", markup=False, highlight=False)
            raise SystemExit(f"devtrace demo: `devtrace {args[0]}` failed during: {title}")
        return done

    def analyse(self) -> None:
        self.console.rule("2. SQL over the store: devtrace sql (DuckDB views in sql/views)")
        self.show("analytics", "sql", "SELECT agent_id, commands, failures, timeouts, "
                  "round(failure_rate, 2) AS failure_rate FROM agent_summary ORDER BY agent_id")
        self.show("analytics", "sql", "SELECT program, runs, retries, resolved FROM retry_loops")

    def score(self, workdir: Path) -> None:
        self.console.rule("3. A scoring model: bootstrap data, XGBoost, SHAP")
        data = workdir / "synthetic.parquet"
        self.show("ml", "ml", "generate", "--out", str(data), "--rows", "20000", "--seed", "42")
        self.show("ml", "ml", "train", "--dataset", str(data))
        self.console.rule("4. Every event scored and explained: devtrace events")
        self.show("events", "events")

    def report(self, workdir: Path) -> Path:
        self.console.rule("5. The analysis as a report that opens offline: devtrace report")
        out = workdir / "report.html"
        self.show("report", "report", "--out", str(out))
        return out

    def next_steps(self, report: Path) -> None:
        """What to try on the demo's store (named each time: the person's own shell must not
        be sent into it), then on their own work, which goes to their own store."""
        store = shlex.quote(str(self.store))
        self.console.rule("Try next")
        self.console.print(
            "On the demo's store:\n"
            f"  open {shlex.quote(str(report))}\n"
            f"  devtrace top --path {store}\n"
            f"  devtrace notebook analysis --path {store}   # also: labeling, retraining\n"
            f"  devtrace ml explain --from-store --limit 3 --path {store}\n"
            f"  devtrace label EVENT_ID 80 --by you --path {store}\n"
            "On your own work (your store: ~/.devtrace):\n"
            '  eval "$(devtrace hook bash)"      # in ~/.bashrc: every command you type; or zsh, fish\n'
            "  devtrace run -- <any command you run anyway>\n"
            "  devtrace top                      # where your time went\n"
            "  devtrace views                    # every metric, one SQL view each",
            markup=False, highlight=False,
        )


def run_demo(workdir: Path | None = None, console: Console | None = None) -> Path:
    """Run the whole demo; returns the store it filled."""
    console = console or Console()
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="devtrace-demo-"))
    demo = Demo(workdir, console)
    console.print(f"[bold]DevTrace demo[/] in {workdir} (a scratch git repo and store)")
    demo.make_repo()
    demo.capture()
    demo.analyse()
    demo.score(workdir)
    report = demo.report(workdir)
    if importlib.util.find_spec("fastapi") and importlib.util.find_spec("uvicorn"):
        teams(demo, workdir)
    else:
        console.print("(The teams part needs the server extra: pip install 'devtrace[server]'.)")
    demo.next_steps(report)
    return demo.store

"""What the hooks cost: the prompt's path, the writer, and the agent hook program.

1. Prompt: an interactive bash and zsh in a pty each run N short commands (`true`) with and
   without DevTrace's hook, interleaved (with, without, with, ...). Prints the median time
   from Enter to the next prompt and the difference: the time the hook adds per command on
   the prompt's path (target <= 2 ms; Atuin runs `atuin history start` synchronously there).
   Paced: the next command is typed once the previous event is stored, as a person types;
   typed ahead: back to back, the writers of earlier commands still running. "Shell side":
   the same hook with its writer replaced by `cat`, i.e. the builtins and forks on the
   prompt's path without the writer's CPU competing with the shell (on a machine whose
   cores are all busy, the writer's start-up delays the prompt; on one with a free core it
   does not).
2. Writer: the detached `hook record bash` a prompt starts, run on a shell's report in a git
   repo with one dirty file: CPU ms (its own and its git's) and peak MiB per event.
3. Agent hook program: for each agent, the command `devtrace hook install AGENT` puts in its
   settings, run as the agent runs it (`sh -c`), fed that CLI's real payload
   (tests/fixtures/agents/): wall ms from start to exit (what the agent waits for; target <= 5 ms
   over `sh -c 'cat >/dev/null'`, measured interleaved).

    python benchmarks/hooks.py [--commands 200] [--events 50] [--agents-only]
"""

import argparse
import json
import os
import pty
import resource
import select
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = b"@@P@@ "
GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}


class PtyShell:
    def __init__(self, argv: list[str], env: dict, cwd: Path):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        self.read_until_prompt()

    def read_until_prompt(self, timeout: float = 30.0) -> None:
        seen = b""
        deadline = time.monotonic() + timeout
        while not seen.endswith(PROMPT):
            if not select.select([self.fd], [], [], max(deadline - time.monotonic(), 0))[0]:
                raise SystemExit(f"no prompt from the shell; last output: {seen[-200:]!r}")
            seen += os.read(self.fd, 65536)

    def run(self, line: bytes) -> float:
        start = time.perf_counter()
        os.write(self.fd, line + b"\n")
        self.read_until_prompt()
        return time.perf_counter() - start

    def close(self) -> None:
        os.write(self.fd, b"exit\n")
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def shell_argv(shell: str, home: Path, hook: str | None) -> tuple[list[str], dict]:
    home.mkdir(parents=True)
    load = f"{hook}\n" if hook else ""
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "TERM": "dumb", "LANG": "C.UTF-8"}
    if shell == "bash":
        (home / ".bashrc").write_text(f"PS1='{PROMPT.decode()}'\nHISTFILE={home}/hist\n{load}")
        return ["bash", "--noprofile", "--rcfile", str(home / ".bashrc"), "-i"], env
    (home / ".zshrc").write_text(f"PS1='{PROMPT.decode()}'\nHISTFILE={home}/hist\nHISTSIZE=1000\nunsetopt ZLE\n{load}")
    return ["zsh", "-i"], {**env, "ZDOTDIR": str(home)}


def prompt_cost(shell: str, work: Path, repo: Path, commands: int, mode: str) -> tuple[float, float]:
    store = work / f"store-{shell}-{mode}"
    sys.path.insert(0, str(ROOT))
    from devtrace.capture.hooks import shells

    script = shells.script(shell, str(store))
    if mode == "shell side":
        writer = " ".join((shells._fish_quote if shell == "fish" else shells.sh_quote)(w)
                          for w in shells.writer_argv(shell, str(store)))
        script = script.replace(writer, "cat")
    (work / f"hook.{shell}.{mode}").write_text(script)
    paced = mode != "typed ahead"
    plain = PtyShell(*shell_argv(shell, work / f"{shell}-plain-{mode}", None), cwd=repo)
    hooked = PtyShell(*shell_argv(shell, work / f"{shell}-hooked-{mode}", f"source '{work}/hook.{shell}.{mode}'"),
                      cwd=repo)
    samples = {"plain": [], "hooked": []}
    try:
        for i in range(commands + 10):
            order = [("plain", plain), ("hooked", hooked)] if i % 2 else [("hooked", hooked), ("plain", plain)]
            for name, sh in order:
                took = sh.run(b"true")
                if i >= 10:  # the first runs warm caches
                    samples[name].append(took)
            if mode == "paced":
                wait_for(store, i + 1)
            elif paced:
                time.sleep(0.05)
    finally:
        plain.close()
        hooked.close()
    if mode != "shell side":
        wait_for(store, commands + 10)
    return statistics.median(samples["plain"]) * 1000, statistics.median(samples["hooked"]) * 1000


def wait_for(store: Path, count: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(store / "devtrace.db") as conn:
                if conn.execute("SELECT count(*) FROM command_events").fetchone()[0] >= count:
                    return
        except sqlite3.Error:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the writers did not record {count} events in {timeout:.0f} s")


def writer_cost(work: Path, repo: Path, events: int) -> tuple[float, float]:
    """Median CPU ms (writer + the git it runs) and max peak MiB of one writer."""
    sys.path.insert(0, str(ROOT))
    from devtrace.capture.hooks import shells

    argv = shells.writer_argv("bash", str(work / "store-writer"))
    cpu, peak = [], []
    for i in range(events + 3):
        report = f"0 {int(time.time() * 1e6)} 1000 bench\n    {i}  pytest -q tests/test_{i}.py\n".encode()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, cwd=repo)
        proc.stdin.write(report)
        proc.stdin.close()
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i >= 3:
            cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
            peak.append(usage.ru_maxrss / 1024)
    wait_for(work / "store-writer", events + 3)
    return statistics.median(cpu), max(peak)


AGENT_PAYLOADS = {"claude-code": ("PostToolUse", "PostToolUse"), "codex": ("PostToolUse", "PostToolUse"),
                  "gemini": ("AfterTool", "AfterTool")}  # agent: (hook event, fixture)


def agent_cost(work: Path, repo: Path, runs: int) -> dict:
    """Per agent: the command `devtrace hook install AGENT` put in its settings, run as the
    agent runs it (`sh -c COMMAND`, the payload on stdin) on the real payload captured from
    that CLI, against `sh -c 'cat >/dev/null'`, interleaved: median wall ms of each."""
    fixtures = ROOT / "tests" / "fixtures" / "agents"
    found = {}
    for agent, (event, fixture) in AGENT_PAYLOADS.items():
        home = work / f"agent-home-{agent}"
        home.mkdir()
        store = work / f"store-{agent}"
        env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home / ".codex")}
        subprocess.run([sys.executable, "-m", "devtrace", "hook", "install", agent, "--path", str(store)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        settings = json.loads((home / {"claude-code": ".claude/settings.json", "codex": ".codex/hooks.json",
                                       "gemini": ".gemini/settings.json"}[agent]).read_text())
        command = settings["hooks"][event][0]["hooks"][0]["command"]
        payload = json.loads((fixtures / agent / f"{fixture}.json").read_text())
        payload["cwd"] = str(repo)
        if "transcript_path" in payload:
            payload["transcript_path"] = str(fixtures / agent / "transcript.jsonl")
        hook, floor = [], []
        for i in range(runs + 3):
            payload["tool_use_id"] = f"call_{i}"  # one event per call
            data = json.dumps(payload).encode()
            for shell_line, into in ((command, hook), ("cat >/dev/null", floor)):
                start = time.perf_counter()
                subprocess.run(["sh", "-c", shell_line], input=data, stdout=subprocess.DEVNULL, env=env, cwd=repo)
                if i >= 3:
                    into.append((time.perf_counter() - start) * 1000)
            wait_for(store, i + 1)  # one detached writer at a time: measure the hook, not a backlog
        found[agent] = (statistics.median(hook), statistics.median(floor))
    return found


def make_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
    for i in range(50):
        (root / f"m{i}.py").write_text(f"V = {i}\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=root, check=True, env=env)
    (root / "m0.py").write_text("V = 'dirty'\nW = 1\n")
    return root


def print_agents(costs: dict, runs: int) -> None:
    print(f"agent hook program as installed, on each CLI's real payload, {runs} runs (target: <= 5 ms added):")
    for agent, (hook, floor) in costs.items():
        print(f"  {agent:<12} median {hook:6.1f} ms wall; sh -c 'cat >/dev/null' {floor:5.1f} ms: +{hook - floor:.1f} ms per call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--agents-only", action="store_true", help="only the agent hook programs (part 3)")
    args = parser.parse_args()
    missing = [tool for tool in ("bash", "zsh", "git") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"this benchmark needs {', '.join(missing)}")
    work = Path(tempfile.mkdtemp(prefix="devtrace-hooks-bench-"))
    try:
        repo = make_repo(work / "repo")
        if args.agents_only:
            return print_agents(agent_cost(work, repo, args.events), args.events)
        print(f"prompt's path, {args.commands} x `true` per shell, with and without the hook, interleaved:")
        for mode in ("shell side", "paced", "typed ahead"):
            for shell in ("bash", "zsh"):
                plain, hooked = prompt_cost(shell, work, repo, args.commands, mode)
                print(f"  {shell:<5} {mode:<11} median Enter->prompt {plain:6.2f} ms bare, "
                      f"{hooked:6.2f} ms hooked: +{hooked - plain:.2f} ms per command")
        cpu, peak = writer_cost(work, repo, args.events)
        print(f"writer (hook record bash, git repo with a dirty file), {args.events} events: "
              f"median {cpu:.1f} CPU ms per event (with its git), peak {peak:.1f} MiB")
        print_agents(agent_cost(work, repo, args.events), args.events)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

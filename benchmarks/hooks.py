"""What the hooks cost: the prompt's path, the writer, and the agent hook program.

1. Prompt: an interactive bash and zsh in a pty each run N short commands (`true`) with and
   without DevTrace's hook, interleaved (with, without, with, ...). Prints the median time
   from Enter to the next prompt and the difference: the time the hook adds per command on
   the prompt's path (targets: typed ahead <= 2 ms, paced <= 1 ms; Atuin runs `atuin history
   start` synchronously there). Paced: the next command is typed once the previous event is
   stored, as a person types; typed ahead: back to back, the drainer at work meanwhile. During
   the typed-ahead burst it samples every DevTrace capture process (the drainer, its git) every
   10 ms: the most alive at once and their peak memory together (targets: <= 2, <= 100 MiB).
2. Drainer: N shell records spooled at once (as a typed-ahead burst leaves them), drained by
   one drainer: its CPU ms per event, amortised, outside a git repo and in one (its git
   included), and its peak MiB (target: <= 5 ms per event without git).
3. Agent hook: for each agent and its start and end events, the command `devtrace hook install
   AGENT` puts in its settings (a POSIX sh script that spools the payload), run as the agent
   runs it (`sh -c`), fed that CLI's real payload (tests/fixtures/agents/): wall ms from start
   to exit (what the agent waits for; target <= 5 ms over `sh -c 'cat >/dev/null'`, measured
   interleaved, the drainer alive as during a session).

    python benchmarks/hooks.py [--commands 200] [--events 200] [--agents-only]
"""

import argparse
import json
import os
import pty
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


def prompt_cost(shell: str, work: Path, repo: Path, commands: int, mode: str) -> tuple[float, float, int, float]:
    """Median Enter->prompt ms bare and hooked; with the most DevTrace capture processes seen
    alive at once and their largest total RSS (MiB) during the run."""
    store = work / f"store-{shell}-{mode}"
    sys.path.insert(0, str(ROOT))
    from devtrace.capture.hooks import shells

    (work / f"hook.{shell}.{mode}").write_text(shells.script(shell, str(store)))
    plain = PtyShell(*shell_argv(shell, work / f"{shell}-plain-{mode}", None), cwd=repo)
    hooked = PtyShell(*shell_argv(shell, work / f"{shell}-hooked-{mode}", f"source '{work}/hook.{shell}.{mode}'"),
                      cwd=repo)
    samples = {"plain": [], "hooked": []}
    watch = CaptureProcesses(store)
    try:
        for i in range(commands + 10):
            if i == 10:
                watch.start()
            order = [("plain", plain), ("hooked", hooked)] if i % 2 else [("hooked", hooked), ("plain", plain)]
            for name, sh in order:
                took = sh.run(b"true")
                if i >= 10:  # the first runs warm caches
                    samples[name].append(took)
            if mode == "paced":
                wait_for(store, i + 1)
        wait_for(store, commands + 10)
    finally:
        watch.stop()
        plain.close()
        hooked.close()
    return (statistics.median(samples["plain"]) * 1000, statistics.median(samples["hooked"]) * 1000,
            watch.most, watch.peak_kib / 1024)


class CaptureProcesses:
    """Samples, every 10 ms, the processes capturing into `store` (the drainer, named
    devtrace-drain, and anything whose command line names the store: a starting drainer, git
    run by it) and keeps the most alive at once and their largest total RSS."""

    def __init__(self, store: Path) -> None:
        import threading

        self.store = os.fsencode(str(store))
        self.most = 0
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            alive, kib = 0, 0
            drainers = set()
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmdline = f.read()
                    with open(f"/proc/{pid}/status", "rb") as f:
                        status = f.read()
                except OSError:
                    continue
                fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
                ppid = fields.get(b"PPid", b"0").strip()
                mine = self.store in cmdline and b"devtrace.capture.drainer" in cmdline
                if mine:
                    drainers.add(pid.encode())
                if mine or ppid in drainers:
                    alive += 1
                    kib += int(fields.get(b"VmRSS", b"0 kB").split()[0])
            self.most = max(self.most, alive)
            self.peak_kib = max(self.peak_kib, kib)
            time.sleep(0.01)


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
    raise SystemExit(f"the drainer did not record {count} events in {timeout:.0f} s")


def drainer_cost(work: Path, where: Path, events: int, name: str) -> tuple[float, float]:
    """CPU ms per event (the drainer's own and its git's) and peak MiB of one drainer that
    drains `events` records spooled at once, as a typed-ahead burst of one shell leaves them
    (a shell that has exited since, pid 4194305: git measures the last command's end state)."""
    sys.path.insert(0, str(ROOT))
    from devtrace.capture import drainer

    store = work / f"store-drain-{name}"
    subprocess.run([sys.executable, "-m", "devtrace", "init", "--path", str(store)], check=True,
                   stdout=subprocess.DEVNULL)
    (store / "spool").mkdir(mode=0o700, exist_ok=True)
    now = int(time.time() * 1e6)
    for i in range(events):
        body = os.fsencode(str(where)) + b"\0" + f"pytest -q tests/test_{i}.py".encode()
        (store / "spool" / f"bench.{i + 1}.rec").write_bytes(
            f"DTSPOOL 1 shell bash line 0 {now + i * 1000} 500 bench 4194305\n".encode() + body + b"\x1e\n")
    proc = subprocess.Popen(drainer.argv(str(store), "--once"), cwd=where)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    wait_for(store, events)
    return (usage.ru_utime + usage.ru_stime) * 1000 / events, usage.ru_maxrss / 1024


AGENT_EVENTS = {"claude-code": ("PreToolUse", "PostToolUse"), "codex": ("PreToolUse", "PostToolUse"),
                "gemini": ("BeforeTool", "AfterTool")}  # agent: its start and end events (and fixtures)
SETTINGS = {"claude-code": ".claude/settings.json", "codex": ".codex/hooks.json", "gemini": ".gemini/settings.json"}


def agent_cost(work: Path, repo: Path, runs: int) -> dict:
    """Per agent and event: the command `devtrace hook install AGENT` put in the agent's
    settings for that event, run as the agent runs it (`sh -c COMMAND`, the payload on stdin)
    on the real payload captured from that CLI, against `sh -c 'cat >/dev/null'` on the same
    payload, interleaved: {(agent, event): (median ms of the hook, of the floor)}. Each call
    starts once the drainer has taken the record before and 20 ms have passed (it stays
    alive, as during an agent's session, where a command or the model's turn comes between
    two hook calls): what is measured is the hook, not the drainer's work meanwhile."""
    fixtures = ROOT / "tests" / "fixtures" / "agents"
    found = {}
    for agent, events in AGENT_EVENTS.items():
        home = work / f"agent-home-{agent}"
        home.mkdir()
        store = work / f"store-{agent}"
        env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home / ".codex")}
        subprocess.run([sys.executable, "-m", "devtrace", "hook", "install", agent, "--path", str(store)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        settings = json.loads((home / SETTINGS[agent]).read_text())
        payloads, commands = {}, {}
        for event in events:
            commands[event] = settings["hooks"][event][0]["hooks"][0]["command"]
            payloads[event] = json.loads((fixtures / agent / f"{event}.json").read_text())
            payloads[event]["cwd"] = str(repo)
            if "transcript_path" in payloads[event]:
                payloads[event]["transcript_path"] = str(fixtures / agent / "transcript.jsonl")
        times: dict = {(event, kind): [] for event in events for kind in ("hook", "floor")}
        for i in range(runs + 3):
            for event in events:
                payloads[event]["tool_use_id"] = f"call_{i}"  # one event per call
                data = json.dumps(payloads[event]).encode()
                for shell_line, kind in ((commands[event], "hook"), ("cat >/dev/null", "floor")):
                    spool_empty(store)  # the drainer done with the last record, as when a command ran since
                    start = time.perf_counter()
                    subprocess.run(["sh", "-c", shell_line], input=data, stdout=subprocess.DEVNULL, env=env, cwd=repo)
                    if i >= 3:  # the first calls start the drainer
                        times[event, kind].append((time.perf_counter() - start) * 1000)
            wait_for(store, i + 1)
        for event in events:
            found[agent, event] = (statistics.median(times[event, "hook"]), statistics.median(times[event, "floor"]))
    return found


def spool_empty(store: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while (store / "spool").is_dir() and any(n.endswith(".rec") for n in os.listdir(store / "spool")):
        if time.monotonic() > deadline:
            raise SystemExit(f"the spool of {store} was not drained in {timeout:.0f} s")
        time.sleep(0.002)
    time.sleep(0.02)  # and its work after the last record (closing the store, the scorer check)


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
    print(f"agent hook as installed, on each CLI's real payloads, {runs} runs (target: <= 5 ms added):")
    for (agent, event), (hook, floor) in costs.items():
        print(f"  {agent:<12} {event:<12} median {hook:6.2f} ms wall; sh -c 'cat >/dev/null' {floor:5.2f} ms:"
              f" {hook - floor:+.2f} ms per call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--events", type=int, default=200)
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
        for mode in ("paced", "typed ahead"):
            for shell in ("bash", "zsh"):
                plain, hooked, most, peak = prompt_cost(shell, work, repo, args.commands, mode)
                print(f"  {shell:<5} {mode:<11} median Enter->prompt {plain:6.2f} ms bare, "
                      f"{hooked:6.2f} ms hooked: {hooked - plain:+.2f} ms per command; "
                      f"capture processes: at most {most} alive, {peak:.1f} MiB together at peak")
        outside = work / "not-a-repo"
        outside.mkdir()
        for name, where in (("outside a git repo", outside), ("in a git repo with a dirty file", repo)):
            cpu, peak = drainer_cost(work, where, args.events, name.split()[0])
            print(f"drainer, {args.events} records spooled at once, {name}: "
                  f"{cpu:.2f} CPU ms per event (with its git), peak {peak:.1f} MiB")
        print_agents(agent_cost(work, repo, args.events), args.events)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

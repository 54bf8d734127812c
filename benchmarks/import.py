"""`devtrace import` speed and memory.

  history      a zsh EXTENDED_HISTORY file of --lines commands (default 100,000, varied
               words, a tenth of them multi-line) into an empty store, then the same file
               again (which adds nothing). Target (issue 25): the first import <= 5 s.
  transcripts  a Claude Code transcript set generated from the real fixture
               (tests/fixtures/agents/claude-code/transcript.jsonl), each copy a new session
               with new call ids, up to --transcript-mb, imported in one run. Each import
               runs in its own process: its peak memory (VmHWM) is reported; the transcripts
               are streamed line by line, so the peak should not grow with the set's size.

  --compare DIR  runs each history import with the code of another checkout of DevTrace
               too (e.g. `git archive main | tar -x -C DIR`), alternately, three times each,
               so both see the same machine load; the best of each is reported.

    python benchmarks/import.py [--lines 100000] [--transcript-mb 200] [--compare DIR] [--dir D]

--transcript-mb 0 skips the transcripts; the issue's memory bound is --transcript-mb 1024
(1 GB, written to --dir or a temporary folder, removed at the end: check its free space).
"""

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
FIXTURE = CHECKOUT / "tests" / "fixtures" / "agents" / "claude-code" / "transcript.jsonl"
PROGRAMS = ["git status", "pytest -q tests/test_{}.py", "make build", "ls -la src/{}", "cd pkg/{} && npm test",
            "rg TODO src/{}", "python -m module{}", "docker compose up -d svc{}", "cargo test -p crate{}", "vim f{}.py"]


def write_history(file: Path, lines: int) -> None:
    rng = random.Random(25)
    start = 1_700_000_000
    with file.open("w", encoding="utf-8") as f:
        for i in range(lines):
            command = rng.choice(PROGRAMS).format(rng.randrange(500))
            if i % 10 == 0:
                command = f"for x in a b; do\\\n  {command} $x\\\ndone"
            f.write(f": {start + i * 7}:{rng.randrange(30)};{command}\n")


def write_transcripts(folder: Path, megabytes: int) -> int:
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    session = json.loads(lines[0])["sessionId"]
    calls = sorted({block["id"] for line in lines for block in _blocks(json.loads(line))})
    folder.mkdir(parents=True)
    written, copies = 0, 0
    while written < megabytes * 1024 * 1024:
        new = str(uuid.UUID(int=random.Random(copies).getrandbits(128)))
        text = "\n".join(lines).replace(session, new)
        for call in calls:
            text = text.replace(call, f"{call}_{copies}")
        file = folder / f"{new}.jsonl"
        file.write_text(text + "\n", encoding="utf-8")
        written += file.stat().st_size
        copies += 1
    return copies


def _blocks(record: dict):
    content = record.get("message", {}).get("content") if isinstance(record.get("message"), dict) else None
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"] if isinstance(content, list) else []


def run_import(args: list[str], store: Path, checkout: Path = CHECKOUT, env: dict | None = None
               ) -> tuple[float, float, dict, int]:
    """(wall seconds, CPU seconds, counts, peak KiB) of one `devtrace import` in its own process
    (the CPU time tells what the import costs when other work shares the machine), with the
    code of `checkout` (its folder comes first on the path)."""
    code = ("import runpy, sys; sys.argv = ['devtrace'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('devtrace', run_name='__main__')\n"
            "finally:\n    print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0], file=sys.stderr)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, "import", *args, "--path", str(store), "--json"],
                          capture_output=True, text=True, cwd=checkout, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return seconds, cpu, json.loads(done.stdout), int(done.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--transcript-mb", type=int, default=200)
    parser.add_argument("--compare", type=Path, help="another checkout to time the history import with, alternately")
    parser.add_argument("--dir")
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # killed: still remove what was written
    work = Path(options.dir or tempfile.mkdtemp(prefix="devtrace-import-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        history = work / "zsh_history"
        write_history(history, options.lines)
        size = f"{options.lines:,} lines ({history.stat().st_size / 2**20:.1f} MiB)"
        checkouts = [("this checkout", CHECKOUT)] + ([(str(options.compare), options.compare)] if options.compare else [])
        best: dict[str, tuple] = {}
        for attempt in range(3 if options.compare else 1):
            for index, (name, checkout) in enumerate(checkouts):
                store = work / f"store-{attempt}-{index}"
                first = run_import(["zsh", str(history)], store, checkout)
                again = run_import(["zsh", str(history)], store, checkout)
                shutil.rmtree(store)
                if name not in best or first[0] < best[name][0][0]:
                    best[name] = (first, again)
        for name, ((seconds, cpu, counts, peak), (again_s, again_cpu, again_counts, _)) in best.items():
            print(f"history ({name}): {size} imported in {seconds:.2f} s wall, {cpu:.2f} s CPU (process start "
                  f"included), {counts['added']:,} added, peak {peak / 1024:.0f} MiB; target <= 5 s")
            print(f"history again ({name}): {again_s:.2f} s wall, {again_cpu:.2f} s CPU, {again_counts['added']} added, "
                  f"{again_counts['present']:,} already stored")
        sizes = sorted({options.transcript_mb // 4, options.transcript_mb} - {0})
        for megabytes in sizes:
            folder = work / f"claude-{megabytes}"  # as ~/.claude: projects/<project>/<session>.jsonl
            copies = write_transcripts(folder / "projects" / "bench", megabytes)
            seconds, cpu, counts, peak = run_import(["claude-code"], work / f"store-{megabytes}",
                                                    env={"CLAUDE_CONFIG_DIR": str(folder)})
            print(f"transcripts: {megabytes} MiB ({copies} sessions, {counts['added']:,} calls) in {seconds:.1f} s wall, "
                  f"{cpu:.1f} s CPU, peak {peak / 1024:.0f} MiB; target < 300 MiB", flush=True)
            shutil.rmtree(folder)  # the next size needs the room
            shutil.rmtree(work / f"store-{megabytes}")
    finally:
        if not options.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

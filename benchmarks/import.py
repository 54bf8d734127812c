"""`devtrace import` speed and memory.

  history      a zsh EXTENDED_HISTORY file of --lines commands (default 100,000, varied
               words, a tenth of them multi-line) into an empty store, then the same file
               again (which adds nothing). Target (issue 25): the first import <= 5 s.
  transcripts  a Claude Code transcript set generated from the real fixture
               (tests/fixtures/agents/claude-code/transcript.jsonl), each copy a new session
               with new call ids, up to --transcript-mb, imported in one run. Each import
               runs in its own process: its peak memory (VmHWM) is reported; the transcripts
               are streamed line by line, so the peak should not grow with the set's size.

    python benchmarks/import.py [--lines 100000] [--transcript-mb 200] [--dir D]
"""

import argparse
import json
import random
import resource
import shutil
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


def run_import(args: list[str], store: Path) -> tuple[float, float, dict, int]:
    """(wall seconds, CPU seconds, counts, peak KiB) of one `devtrace import` in its own process
    (the CPU time tells what the import costs when other work shares the machine)."""
    code = ("import runpy, sys; sys.argv = ['devtrace'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('devtrace', run_name='__main__')\n"
            "finally:\n    print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0], file=sys.stderr)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, "import", *args, "--path", str(store), "--json"],
                          capture_output=True, text=True, cwd=CHECKOUT)
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
    parser.add_argument("--dir")
    options = parser.parse_args()
    work = Path(options.dir or tempfile.mkdtemp(prefix="devtrace-import-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        history = work / "zsh_history"
        write_history(history, options.lines)
        store = work / "store"
        seconds, cpu, counts, peak = run_import(["zsh", str(history)], store)
        print(f"history: {options.lines:,} lines ({history.stat().st_size / 2**20:.1f} MiB) imported in {seconds:.2f} s "
              f"wall, {cpu:.2f} s CPU (process start included), {counts['added']:,} added, peak {peak / 1024:.0f} MiB; "
              "target <= 5 s")
        seconds, cpu, counts, _ = run_import(["zsh", str(history)], store)
        print(f"history again: {seconds:.2f} s wall, {cpu:.2f} s CPU, {counts['added']} added, "
              f"{counts['present']:,} already stored")
        for megabytes in (options.transcript_mb // 4, options.transcript_mb):
            folder = work / f"claude-{megabytes}"
            copies = write_transcripts(folder, megabytes)
            files = sorted(str(f) for f in folder.iterdir())
            seconds, cpu, counts, peak = run_import(["claude-code", *files], work / f"store-{megabytes}")
            print(f"transcripts: {megabytes} MiB ({copies} sessions, {counts['added']:,} calls) in {seconds:.1f} s wall, "
                  f"{cpu:.1f} s CPU, peak {peak / 1024:.0f} MiB")
    finally:
        if not options.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

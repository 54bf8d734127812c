"""What the benchmarks share to time things: one process's wall and CPU time, rounds of
cases run in turn (interleaved, so that drift in the machine's load hits every case alike),
the median time of a whole set of queries, a process's peak memory, and the dashboard set
that both analytics benchmarks time.
"""

import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

# The columns a dashboard reads, which the sqlite3 equivalents of benchmarks/analytics.py also
# give: not the text people read (`command`) nor the key a hash is under.
DASHBOARD = {
    "daily_activity": "SELECT * FROM daily_activity",
    "agent_summary": "SELECT * FROM agent_summary",
    "command_stats top 20": "SELECT * EXCLUDE (command, key_fingerprint) FROM command_stats "
                            "ORDER BY runs DESC, command_hash LIMIT 20",
    "retry_loops": "SELECT * EXCLUDE (command) FROM retry_loops",
}

Case = TypeVar("Case")
Result = TypeVar("Result")


def process_seconds(argv: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of argv; exits if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"benchmark command failed ({done.returncode}): {' '.join(argv)}")
    return elapsed, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def interleaved(cases: dict[str, Case], measure: Callable[[Case], Result], runs: int,
                warmup: int = 0) -> dict[str, list[Result]]:
    """What `measure(case)` returns for each case over `runs` rounds of all cases in turn,
    after `warmup` runs of each case that are not kept (first runs compile .pyc, load pages)."""
    for case in cases.values():
        for _ in range(warmup):
            measure(case)
    samples = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            samples[name].append(measure(case))
    return samples


def timed_rounds(cases: dict[str, Case], run: Callable[[Case], Result],
                 repeats: int) -> tuple[dict[str, list[float]], dict[str, Result]]:
    """Each case's seconds in `repeats` interleaved rounds of `run(case)`, and its last result."""
    def measure(case: Case) -> tuple[float, Result]:
        started = time.perf_counter()
        result = run(case)
        return time.perf_counter() - started, result

    samples = interleaved(cases, measure, repeats)
    seconds = {name: [s for s, _ in runs] for name, runs in samples.items()}
    return seconds, {name: runs[-1][1] for name, runs in samples.items() if runs}


def set_seconds(seconds: dict[str, list[float]]) -> float:
    """The median over rounds of the whole set's time, from each query's seconds per round."""
    return statistics.median(sum(run) for run in zip(*seconds.values(), strict=True))


def peak_kib() -> int:
    """This process's peak resident memory (VmHWM belongs to this exec, unlike ru_maxrss)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

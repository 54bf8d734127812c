"""`devtrace report` by store size: the whole process's time and the file's size, with the
Vega bundling alone and marimo's export (`--marimo`) measured beside it in the same run.

The stores are synthetic events as benchmarks/analytics.py makes them (90 days, 10 agents,
25 programs). Every measurement is its own fresh process: the report `--repeats` times
(median), the bundle (`vl_convert.javascript_bundle()`, what every report inlines) as often,
marimo's export once per size.

    python benchmarks/report.py [--events 10000,1000000] [--repeats 3] [--dir D]
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics import build_store  # noqa: E402  (the same synthetic store as the analytics benchmark)

BUNDLE = "import vl_convert, altair as alt; vl_convert.javascript_bundle(vl_version='.'.join(alt.SCHEMA_VERSION[1:].split('.')[:2]))"


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one process; CPU barely moves with the load
    that other processes put on the machine, wall does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def medians(runs: list[tuple[float, float]]) -> str:
    wall, cpu = (statistics.median(column) for column in zip(*runs, strict=True))
    return f"{wall:5.2f} s ({cpu:5.2f} s CPU)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="10000,1000000", help="comma-separated store sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="devtrace-bench-report-"))
    work.mkdir(parents=True, exist_ok=True)
    devtrace = [sys.executable, "-m", "devtrace", "report"]
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; each figure is a whole process,"
          f" wall (CPU), median of {args.repeats} unless said")
    bundle = medians([timed([sys.executable, "-c", BUNDLE], work) for _ in range(args.repeats)])
    print(f"bundling Vega, Vega-Lite and Vega-Embed alone: {bundle}")
    print(f"{'events':>10}  {'report':^24}  {'file':>8}  {'--marimo (once)':^24}  {'its file':>8}")
    try:
        for count in (int(n) for n in args.events.split(",")):
            store = work / f"store-{count}"
            if not store.exists():
                build_store(store, count, seed=1)
            out = work / f"report-{count}.html"
            report = medians(
                [timed([*devtrace, "--path", str(store), "--out", str(out)], work) for _ in range(args.repeats)]
            )
            marimo_out = work / f"marimo-{count}.html"
            marimo = medians([timed([*devtrace, "--marimo", "--path", str(store), "--out", str(marimo_out)], work)])
            print(f"{count:>10,}  {report}  {out.stat().st_size / 1e6:>5.2f} MB  {marimo}"
                  f"  {marimo_out.stat().st_size / 1e6:>5.2f} MB")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""How quickly the read commands answer, whole process, measured side by side in one run.

Prints the median and fastest wall time, the median CPU time (user + system: on a busy machine
the wall time waits for a core, the CPU time does not) and the peak memory (max RSS, read by
GNU time) of:
the interpreter floor `python -c pass`; `devtrace --help`; `devtrace events`, `events --json`,
`sql "select count(*) from events"` and `views` on a small store (28 events); and
`devtrace events --limit 5` and `devtrace top` on a store of 1,000,000 events, each with its
command text (as the hooks store it since issue 21). Runs are interleaved so that
drift hits all alike. Targets (issue 9): events <= 250 ms on both stores, sql <= 500 ms,
--help <= 150 ms.

    python benchmarks/reads.py [--runs 20] [--events 1000000] [--baseline CHECKOUT]

With --baseline (another checkout's folder holding `devtrace/` and `sql/`, e.g. main's, from
`git archive main devtrace sql | tar -x -C /tmp/base`), `devtrace events --limit 5` on a 1M
store of this checkout and of the baseline (each store built by its own code) also run side by
side, both started the same way.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from analytics import build_store
from capture_overhead import peak_kib
from timing import interleaved, process_seconds

TARGETS_MS = {"devtrace --help": 150, "devtrace events (small)": 250, "devtrace events --limit 5 (large)": 250,
              "devtrace sql (small)": 500}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare `devtrace events` with")
    args = parser.parse_args()

    devtrace = shutil.which("devtrace") or str(Path(sys.executable).parent / "devtrace")
    work = Path(tempfile.mkdtemp(prefix="devtrace-reads-"))
    try:
        print(f"building stores in {work} (small: 28 events, large: {args.events:,}) ...", flush=True)
        small, large = work / "small", work / "large"
        build_store(small, 28, seed=1)
        build_store(large, args.events, seed=1, with_text=True)
        # As on a user's machine, Python caches compiled modules (some CI images turn it off).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DEVTRACE_") and k != "PYTHONDONTWRITEBYTECODE"}
        count = "select count(*) from events"
        cases = {
            "python -c pass (floor)": [sys.executable, "-c", "pass"],
            "devtrace --help": [devtrace, "--help"],
            "devtrace events (small)": [devtrace, "events", "--path", str(small)],
            "devtrace events --json (small)": [devtrace, "events", "--json", "--path", str(small)],
            "devtrace events --limit 5 (large)": [devtrace, "events", "--limit", "5", "--path", str(large)],
            "devtrace top --since all (large)": [devtrace, "top", "--since", "all", "--path", str(large)],
            "devtrace sql (small)": [devtrace, "sql", count, "--path", str(small)],
            "devtrace views": [devtrace, "views"],
        }
        if args.baseline:
            for label, checkout in (("this checkout", Path(__file__).resolve().parent.parent),
                                    ("baseline", args.baseline.resolve())):
                store = work / f"large-{label.split()[0]}"
                _build_with(checkout, store, args.events)
                launch = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(checkout)!r}); "
                          "from devtrace.__main__ import main; main()"]
                cases[f"events --limit 5 (large), {label}"] = [*launch, "events", "--limit", "5", "--path", str(store)]
        samples = interleaved(cases, lambda argv: process_seconds(argv, work, env), args.runs, warmup=2)
        peaks = {name: max((peak_kib(argv, work, env) or 0) for _ in range(3)) / 1024 for name, argv in cases.items()}

        print(f"\n{args.runs} interleaved runs each: wall time (median, fastest), CPU time (median), peak RSS\n")
        print(f"{'case':46} {'median':>9} {'fastest':>9} {'CPU':>9} {'peak RSS':>10}  target")
        for name, runs in samples.items():
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            target = f"<= {TARGETS_MS[name]} ms" if name in TARGETS_MS else ""
            print(f"{name:46} {statistics.median(walls) * 1000:6.0f} ms {min(walls) * 1000:6.0f} ms "
                  f"{statistics.median(cpus) * 1000:6.0f} ms {peaks[name]:6.1f} MiB  {target}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build_with(checkout: Path, store: Path, events: int) -> None:
    """A store of `events` events with text, made by `checkout`'s own DevTrace (its schema)."""
    here = Path(__file__).resolve().parent
    code = (f"import sys; sys.path[:0] = [{str(checkout)!r}, {str(here)!r}]; from pathlib import Path; "
            f"from analytics import build_store; build_store(Path({str(store)!r}), {events}, seed=1, with_text=True)")
    subprocess.run([sys.executable, "-c", code], check=True)


if __name__ == "__main__":
    main()

"""Capture overhead of `devtrace run`, measured side by side in one run.

Prints the median wall time and peak memory (max RSS of the largest process in the tree,
read by GNU time, since a child forked from this script would inherit its RSS) of:
bare `true`; the interpreter floor `python -c "import sqlite3, subprocess"`; `devtrace run
-- true` in a small git repo with a dirty file, without and with an active model (capture
then starts a detached scorer; its own cost is not capture's); and the same in a repo of
20,000 tracked files, plus where the large-repo time goes. Runs are interleaved so drift
hits all alike. Last, a repo of 100,000 dirty files, where one `git diff` takes seconds:
there each git snapshot stops at its time budget (`git_timeout_ms`, default 300 ms).

    python benchmarks/capture_overhead.py [--runs 40] [--files 20000] [--dirty-files 100000]
                                          [--baseline CHECKOUT]

With --baseline (another checkout's folder holding `devtrace/` and `sql/`, e.g. main's, from
`git archive main devtrace sql | tar -x -C /tmp/base`), `devtrace run` of this checkout and of the
baseline also run side by side, both started the same way, on `true` and on a command line the
redactor has work on (issue 21: capture overhead unchanged by the command text).
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import process_seconds

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
}


GNU_TIME = "/usr/bin/time"


def wall(argv: list[str], cwd: Path, env: dict) -> float:
    """Wall seconds of one run of argv."""
    return process_seconds(argv, cwd, env)[0]


def peak_kib(argv: list[str], cwd: Path, env: dict) -> int | None:
    """Max RSS (KiB) of the largest process in argv's tree, or None without GNU time."""
    if not os.access(GNU_TIME, os.X_OK):
        return None
    done = subprocess.run([GNU_TIME, "-f", "%M", *argv], cwd=cwd, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(done.stderr.strip().splitlines()[-1])


def make_repo(root: Path, files: int, dirty: int = 1) -> Path:
    root.mkdir(parents=True)
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
    for i in range(files):
        folder = root / f"pkg{i // 500:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{i:05d}.py").write_text(f"VALUE = {i}\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=root, check=True, env=env)
    for i in range(dirty):
        (root / f"pkg{i // 500:03d}" / f"mod{i:05d}.py").write_text("VALUE = 'dirty'\nEXTRA = 1\n")
    subprocess.run(["git", "status", "-s"], cwd=root, check=True, env=env, stdout=subprocess.DEVNULL)
    return root


def make_model_store(store: Path, cwd: Path, devtrace: str, env: dict) -> Path:
    """A store with an active model, trained on a small synthetic dataset."""
    data = store.parent / "bootstrap.parquet"
    for args in (["ml", "generate", "--out", str(data), "--rows", "5000", "--seed", "1"],
                 ["ml", "train", "--dataset", str(data), "--path", str(store)]):
        subprocess.run([devtrace, *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return store


def wait_until_scored(store: Path, timeout: float = 60.0) -> None:
    """Let the detached scorer a capture started score the event and exit, so that it does
    not slow the runs measured after it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(store / "devtrace.db") as conn:
            pending = conn.execute("SELECT count(*) FROM command_events WHERE scored_at IS NULL").fetchone()[0]
        if pending == 0 and not _scorers_running():
            return
        time.sleep(0.05)
    raise SystemExit("the background scorer did not score the captured event within a minute")


def _scorers_running() -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"devtrace.ml.autoscore" in f.read():
                    return True
        except OSError:
            continue
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--dirty-files", type=int, default=100_000, help="0 skips the dirty-repo case")
    parser.add_argument("--dirty-runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare `devtrace run` with")
    args = parser.parse_args()

    devtrace = shutil.which("devtrace") or str(Path(sys.executable).parent / "devtrace")
    work = Path(tempfile.mkdtemp(prefix="devtrace-bench-"))
    try:
        print(f"building repos in {work} (small: 2 files, large: {args.files} files) ...", flush=True)
        small = make_repo(work / "small", 2)
        large = make_repo(work / "large", args.files)
        # As on a user's machine, Python caches compiled modules (some CI images turn it off).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DEVTRACE_") and k != "PYTHONDONTWRITEBYTECODE"}
        modelled = make_model_store(work / "s3", small, devtrace, env)
        cases = {
            "bare `true`": (["true"], small),
            "python -c 'import sqlite3, subprocess'": ([sys.executable, "-c", "import sqlite3, subprocess"], small),
            "devtrace run -- true (small repo)": ([devtrace, "run", "--path", str(work / "s1"), "--", "true"], small),
            "devtrace run -- true (small repo, model)": ([devtrace, "run", "--path", str(modelled), "--", "true"], small),
            f"devtrace run -- true ({args.files:,} files)": ([devtrace, "run", "--path", str(work / "s2"), "--", "true"], large),
        }
        if args.baseline:
            for label, checkout, store in (("this checkout", Path(__file__).resolve().parent.parent, "c1"),
                                           ("baseline", args.baseline.resolve(), "c2")):
                launch = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(checkout)!r}); "
                          "from devtrace.__main__ import main; main()", "run", "--path", str(work / store), "--"]
                cases[f"devtrace run -- true, {label}"] = ([*launch, "true"], small)
                cases[f"devtrace run -- sh -c 'API_TOKEN=…', {label}"] = (
                    [*launch, "sh", "-c", "API_TOKEN=Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1 curl --version >/dev/null || :"], small)
        diff = ["git", "--no-optional-locks", "diff", "--numstat", "-z", "--no-renames", "HEAD", "--"]
        parts = {
            "  git diff --numstat HEAD, small repo": (diff, small),
            f"  git diff --numstat HEAD, {args.files:,} files": (diff, large),
        }
        everything = {**cases, **parts}
        for argv, cwd in everything.values():  # warm caches: first runs compile .pyc, load pages
            for _ in range(3):
                wall(argv, cwd, env)
        wait_until_scored(modelled)
        samples = {name: [] for name in everything}
        for _ in range(args.runs):
            for name, (argv, cwd) in everything.items():
                samples[name].append(wall(argv, cwd, env))
                if argv[0] == devtrace and str(modelled) in argv:
                    wait_until_scored(modelled)
        peaks = {name: [peak_kib(argv, cwd, env) for _ in range(5)] for name, (argv, cwd) in everything.items()}
        wait_until_scored(modelled)

        def median_ms(name):
            return statistics.median(samples[name]) * 1000

        def peak_mib(name):
            return float("nan") if None in peaks[name] else max(peaks[name]) / 1024

        print(f"\n{args.runs} interleaved runs each, median wall time and peak RSS of the process tree\n")
        print(f"{'case':48} {'median':>9} {'peak RSS':>10}")
        for name in everything:
            print(f"{name:48} {median_ms(name):7.1f} ms {peak_mib(name):7.1f} MiB")
        floor, small_run, model_run, large_run = (median_ms(name) for name in list(cases)[1:5])
        small_name, model_name = list(cases)[2:4]
        print(f"\ndevtrace run -- true over the interpreter floor, small repo: {small_run - floor:+.1f} ms "
              f"(target: within 10 ms; peak {peak_mib(small_name):.1f} MiB, target < 30 MiB)")
        print(f"  the same with an active model: {model_run - floor:+.1f} ms, peak {peak_mib(model_name):.1f} MiB")
        print(f"devtrace run -- true over the interpreter floor, large repo: {large_run - floor:+.1f} ms, "
              f"of which 2 git diffs (before and after): {2 * median_ms(list(parts)[1]):.1f} ms")
        if args.dirty_files:
            dirty_case(work, args.dirty_files, args.dirty_runs, devtrace, env, floor)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def dirty_case(work: Path, files: int, runs: int, devtrace: str, env: dict, floor_ms: float) -> None:
    """`devtrace run -- true` where every one of `files` tracked files is dirty."""
    print(f"\nbuilding a repo of {files:,} files, all dirty ...", flush=True)
    repo = make_repo(work / "dirty", files, dirty=files)
    diff = ["git", "--no-optional-locks", "diff", "--numstat", "-z", "--no-renames", "HEAD", "--"]
    run = [devtrace, "run", "--path", str(work / "s4"), "--", "true"]
    wall(run, repo, env)  # warm
    diff_s = [wall(diff, repo, env) for _ in range(2)]
    run_s = [wall(run, repo, env) for _ in range(runs)]
    peak = max(peak_kib(run, repo, env) or 0 for _ in range(2)) / 1024
    with sqlite3.connect(work / "s4" / "devtrace.db") as conn:
        unknown = conn.execute("SELECT count(*) FROM command_events WHERE files_touched_count IS NULL").fetchone()[0]
        total = conn.execute("SELECT count(*) FROM command_events").fetchone()[0]
    print(f"{files:,} dirty files: git diff --numstat HEAD {statistics.median(diff_s) * 1000:.0f} ms; "
          f"devtrace run -- true {statistics.median(run_s) * 1000:.0f} ms median of {runs} "
          f"({statistics.median(run_s) * 1000 - floor_ms:+.0f} ms over the floor), peak {peak:.1f} MiB; "
          f"git fields NULL in {unknown} of {total} events")


if __name__ == "__main__":
    main()

"""ML lifecycle benchmark: generate, train and score with SHAP contributions, as a user runs them.

Every step is the real CLI in its own process; wall time and that process's peak memory
(ru_maxrss from wait4) are reported, with the validation MAE of the default model and of a
model trained with DevTrace 0.2.0's parameters (280 trees, depth 5, eta 0.06) on the same
split. Not a timed test: run it on a quiet machine and read the numbers.

    python benchmarks/ml.py                  # 50,000 and 1,000,000 rows
    python benchmarks/ml.py --rows 50000     # one size
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ORIGINAL_PARAMS = ["--n-estimators", "280", "--max-depth", "5", "--learning-rate", "0.06",
                   "--min-child-weight", "1", "--early-stopping-rounds", "0"]
# Measured for DevTrace 0.2.0 on 50,000 rows (the reference numbers).
ORIGINAL_50K = {"generate": 0.67, "train": 1.57, "score": 22.7}


def run(args: list[str], cwd: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB, and stdout of one CLI process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "devtrace", *args], cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, peak RSS included
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            sys.exit(f"devtrace {' '.join(args)} failed:\n{err.read()}")
        out.seek(0)
        return seconds, usage.ru_maxrss / 1024, out.read()


def bench(rows: int, folder: str) -> dict:
    data = os.path.join(folder, f"events-{rows}.csv")
    result = {"rows": rows}
    result["generate"] = run(["ml", "generate", "--out", data, "--rows", str(rows), "--seed", "42"], folder)[:2]
    seconds, peak, out = run(["ml", "train", "--dataset", data, "--out-dir", f"default-{rows}",
                              "--path", f"store-{rows}", "--json"], folder)
    default = json.loads(out)
    result["train"] = (seconds, peak)
    result["score"] = run(["ml", "score", "--model-dir", f"default-{rows}", "--dataset", data,
                           "--out", f"scores-{rows}.csv"], folder)[:2]
    seconds, peak, out = run(["ml", "train", "--dataset", data, "--out-dir", f"original-{rows}",
                              "--path", f"store-{rows}", "--no-promote", "--json", *ORIGINAL_PARAMS], folder)
    original = json.loads(out)
    result["train_original"] = (seconds, peak)
    if rows <= 50_000:
        result["score_original"] = run(["ml", "score", "--model-dir", f"original-{rows}", "--dataset", data,
                                        "--out", f"scores-original-{rows}.csv"], folder)[:2]
    result["trees"] = default["trees"]
    result["mae"] = default["metrics"]["validation"]["mae"]
    result["mae_original"] = original["metrics"]["validation"]["mae"]
    result["mae_baseline"] = default["metrics"]["baseline_validation"]["mae"]
    return result


def report(r: dict) -> None:
    print(f"\n{r['rows']:,} rows")
    print(f"  {'step':38}{'wall s':>9}{'peak MiB':>10}")
    for key, label in (
        ("generate", "generate (csv)"),
        ("train", f"train, default settings ({r['trees']} trees)"),
        ("score", "score with SHAP contributions"),
        ("train_original", "train, original params (280×d5)"),
        ("score_original", "score, original-params model"),
    ):
        if key in r:
            print(f"  {label:38}{r[key][0]:9.2f}{r[key][1]:10.0f}")
    print(f"  validation MAE: default {r['mae']:.4f} · original params {r['mae_original']:.4f}"
          f" · mean predictor {r['mae_baseline']:.4f}")
    if r["rows"] == 50_000:
        for key in ("generate", "train", "score"):
            print(f"  vs DevTrace 0.2.0 {key}: {ORIGINAL_50K[key]:.2f} s -> {r[key][0]:.2f} s"
                  f" ({ORIGINAL_50K[key] / r[key][0]:.1f}x)")


def import_floor() -> float:
    """Wall time of a process that only imports what training needs: the floor of `ml train`."""
    code = "from devtrace.ml import xgb; xgb.load(); import polars, typer, rich"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="dataset sizes (default: 50000 and 1000000)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]} · {os.cpu_count()} cores · load average {os.getloadavg()[0]:.2f}")
    print(f"import floor (python + polars + xgboost + typer + rich): {import_floor():.2f} s")
    with tempfile.TemporaryDirectory(prefix="devtrace-ml-bench-") as folder:
        for rows in args.rows or [50_000, 1_000_000]:
            report(bench(rows, folder))


if __name__ == "__main__":
    main()

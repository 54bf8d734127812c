"""ML lifecycle benchmark: generate, train and score with SHAP contributions, as a user runs them.

Every step is the real CLI in its own process; wall time and that process's peak memory
(ru_maxrss from wait4) are reported, with the validation MAE of the default model and of a
model trained with DevTrace 0.2.0's parameters (280 trees, depth 5, eta 0.06) on the same
split. `ml score` runs twice: first with the model's SHAP tables still to build, then with
them cached.

Then the SHAP engine side by side with XGBoost, in this process, on the same rows with 10%
more values missing: the table build, the engine alone and pred_contribs alone (interleaved:
engine, pred_contribs, engine, and once more pred_contribs up to 50k rows), shap.TreeExplainer, their largest differences, and what the local-accuracy
check (a plain prediction) costs. At the smallest size, fresh processes explain batches of
growing size both ways: where the engine starts to pay for loading itself. Not a timed
test: run it on a quiet machine and read the numbers.

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

import numpy as np

ORIGINAL_PARAMS = ["--n-estimators", "280", "--max-depth", "5", "--learning-rate", "0.06",
                   "--min-child-weight", "1", "--early-stopping-rounds", "0"]
# Measured for DevTrace 0.2.0 on 50,000 rows (the reference numbers).
ORIGINAL_50K = {"generate": 0.67, "train": 1.57, "score": 22.7}
# `ml score` at 1,000,000 rows with XGBoost's pred_contribs for every row (docs/performance.md, 0.3.0).
SCORE_1M_PRED_CONTRIBS = 135.7


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
    for key in ("score", "score_cached"):
        result[key] = run(["ml", "score", "--model-dir", f"default-{rows}", "--dataset", data,
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
        ("score", "score with SHAP (tables to build)"),
        ("score_cached", "score with SHAP (tables cached)"),
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
    if r["rows"] == 1_000_000:
        print(f"  vs pred_contribs scoring (docs/performance.md, 0.3.0): {SCORE_1M_PRED_CONTRIBS:.1f} s"
              f" -> {r['score_cached'][0]:.2f} s")


def shap_side_by_side(rows: int, folder: str) -> None:
    """The engine and XGBoost on the same rows of the default model, in this process."""
    from devtrace.ml import registry, treeshap, xgb
    from devtrace.ml.datasets import read_dataset
    from devtrace.ml.features import FEATURES, build_features

    xgboost = xgb.load()  # before shap, whose imports would load OpenMP with spinning threads
    import shap
    model = registry.load(os.path.join(folder, f"default-{rows}"))
    matrix = build_features(read_dataset(os.path.join(folder, f"events-{rows}.csv"))).select(FEATURES).to_numpy()
    matrix = matrix.astype(np.float32)
    matrix[np.random.default_rng(0).random(matrix.shape) < 0.1] = np.nan
    print(f"  SHAP engine vs XGBoost, {rows:,} rows, {model.booster.num_boosted_rounds()} trees, "
          f"{np.isnan(matrix).mean():.0%} of values missing, {os.cpu_count()} threads each:")
    started = time.perf_counter()
    tables = treeshap.build(model.booster)
    print(f"    table build (from the model alone): {time.perf_counter() - started:.2f} s, "
          f"{tables.values.size:,} cells, {tables.values.nbytes / 2**20:.1f} MiB")
    started = time.perf_counter()
    treeshap.contributions(tables, matrix[:10])
    print(f"    numba load + first call: {time.perf_counter() - started:.2f} s")
    dmatrix = xgboost.DMatrix(matrix, feature_names=FEATURES)
    timings = {"engine": [], "pred_contribs": []}
    for name in ("engine", "pred_contribs", "engine", "pred_contribs")[: 4 if rows <= 50_000 else 3]:
        started = time.perf_counter()  # interleaved: the machine's load shifts under both alike
        if name == "engine":
            ours = treeshap.contributions(tables, matrix, os.cpu_count())
        else:
            theirs = model.booster.predict(dmatrix, pred_contribs=True)
        timings[name].append(time.perf_counter() - started)
    for name, seconds in timings.items():
        print(f"    {name:14} {' · '.join(f'{s:.2f} s' for s in seconds)}")
    print(f"    speed-up (best of each): {min(timings['pred_contribs']) / min(timings['engine']):.1f}x")
    started = time.perf_counter()
    model.booster.predict(dmatrix, output_margin=True)
    print(f"    local-accuracy check (plain prediction): {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    explainer = shap.TreeExplainer(model.booster)
    by_shap = explainer.shap_values(matrix)
    print(f"    shap.TreeExplainer: {time.perf_counter() - started:.2f} s")
    print(f"    max |engine - pred_contribs| = {np.abs(ours - theirs).max():.3g}"
          f" · max |engine - shap| = {np.abs(ours[:, :-1] - by_shap).max():.3g}"
          f" (bias {abs(ours[0, -1] - explainer.expected_value):.3g})")
    deep = registry.load(os.path.join(folder, f"original-{rows}"))
    print(f"    original params (depth 5): tables would need {treeshap.table_cells(deep.booster):,} cells"
          f" (limit {treeshap.MAX_CELLS:,}): scored by pred_contribs")


CROSSOVER = """
import os, sys, time
import numpy as np
from devtrace.ml import registry, treeshap, xgb
model, matrix = registry.load(sys.argv[1]), np.load(sys.argv[2])
started = time.perf_counter()
tables = treeshap.load_or_build(model.booster, model.sha256, model.tables_file)
treeshap.contributions(tables, matrix, os.cpu_count())
engine = time.perf_counter() - started
started = time.perf_counter()
dmatrix = xgb.load().DMatrix(matrix, feature_names=model.booster.feature_names)
model.booster.predict(dmatrix, pred_contribs=True)
print(engine, time.perf_counter() - started)
"""


def crossover(rows: int, folder: str) -> None:
    """Fresh processes (tables cached): engine with its loading vs pred_contribs per batch size."""
    from devtrace.ml import registry
    from devtrace.ml.datasets import read_dataset
    from devtrace.ml.features import FEATURES, build_features
    from devtrace.ml.scoring import TABLES_FROM_TREE_ROWS

    model_dir = os.path.join(folder, f"default-{rows}")
    trees = registry.load(model_dir).booster.num_boosted_rounds()
    matrix = build_features(read_dataset(os.path.join(folder, f"events-{rows}.csv"))).select(FEATURES).to_numpy()
    print(f"  small batches, fresh process each ({trees} trees; the tables answer from "
          f"{TABLES_FROM_TREE_ROWS:,} rows × trees, {TABLES_FROM_TREE_ROWS // trees:,} rows here):")
    for batch in (500, 2_000, 5_000, 10_000, 20_000):
        file = os.path.join(folder, f"batch-{batch}.npy")
        np.save(file, matrix[:batch].astype(np.float32))
        done = subprocess.run([sys.executable, "-c", CROSSOVER, model_dir, file],
                              capture_output=True, text=True, check=True)
        engine, xgboost = map(float, done.stdout.split())
        print(f"    {batch:>7,} rows: engine incl. loading {engine:.2f} s · pred_contribs {xgboost:.2f} s")


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
        sizes = sorted(args.rows or [50_000, 1_000_000])
        for rows in sizes:
            report(bench(rows, folder))
            shap_side_by_side(rows, folder)
            if rows == sizes[0]:
                crossover(rows, folder)


if __name__ == "__main__":
    main()

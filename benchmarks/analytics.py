"""SQL analytics speed on 1,000,000 synthetic events: the dashboard set, three ways, in one run.

The dashboard set is `daily_activity`, `agent_summary`, the top 20 of `command_stats` and
`retry_loops`, answered
  views    by the DuckDB views of sql/views over the SQLite store attached read-only
           (`devtrace.connect`, what `devtrace sql` and the notebooks use);
  sqlite3  by equivalent SQL run by Python's sqlite3 on the same file;
  native   by the same views over a native DuckDB copy of the store.
Each way runs in its own fresh process (peak memory = its VmHWM) and repeats the set; the
medians and ratios are printed, and the three ways' answers are checked to be the same.
Targets (issue 3): views >= 4x faster than sqlite3, within 3x of native, peak memory < 1 GiB.
The outcome views people read, `time_to_green` and `stuck_sessions`, are timed the views way
too (issue 22: each <= 2 s on 1M events).

    python benchmarks/analytics.py [--events 1000000] [--repeats 5] [--dir D]
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from timing import DASHBOARD, peak_kib, set_seconds, timed_rounds

WAYS = ("views", "sqlite3", "native")
OUTCOMES = {"time_to_green": "SELECT * FROM time_to_green", "stuck_sessions": "SELECT * FROM stuck_sessions"}
OUTCOME_TARGET_S = 2.0

# --- the synthetic store ------------------------------------------------------------------

START = 1_704_067_200.0  # 2024-01-01 UTC
DAYS = 90
AGENTS = ["claude", "codex", "aider", "cursor", "gemini", "copilot", "goose", "dev-ana", "dev-bo", None]
PROGRAMS = ["pytest", "make", "npm", "cargo", "go", "git", "ruff", "mypy", "tsc", "docker", "uv", "sed",
            "bash", "python", "node", "jest", "gradle", "mvn", "rg", "ls", "cat", "tox", "black", "eslint", "curl"]
COMMANDS = 2000
SESSION_LENGTH = 150  # mean events per session
REPOS = 30


def command_hash(i: int) -> str:
    return hashlib.sha256(f"command {i}".encode()).hexdigest()


def synthetic_events(count: int, seed: int):
    """Sessions of agents working: a pool of commands per session, exponential gaps, lognormal
    durations, failures that are often re-run (flailing), git fields NULL outside a repo."""
    rng = random.Random(seed)
    hashes = [command_hash(i) for i in range(COMMANDS)]
    made = 0
    session = 0
    while made < count:
        session += 1
        agent = rng.choice(AGENTS)
        repo = None if rng.random() < 0.1 else f"repo_{rng.randrange(REPOS):04d}"
        pool = [min(int(rng.paretovariate(0.8)) - 1, COMMANDS - 1) for _ in range(8)]  # a few are popular
        at = START + rng.random() * (DAYS * 86_400 - 36_000)
        previous_failed, command = False, rng.choice(pool)
        for _ in range(min(max(1, int(rng.expovariate(1 / SESSION_LENGTH))), count - made)):
            if not (previous_failed and rng.random() < 0.6):
                command = rng.choice(pool)
            duration_ms = int(rng.lognormvariate(6.5, 1.4)) + 1
            timed_out = rng.random() < 0.005
            exit_code = 124 if timed_out else (rng.choice((1, 1, 2, 127)) if rng.random() < 0.15 else 0)
            scored = rng.random() < 0.6
            if repo is None:
                git = (None,) * 6
            else:
                changed = rng.random() < 0.4
                git = (rng.randrange(20), rng.randrange(500), rng.randrange(200),
                       rng.randrange(1, 5) if changed else 0, rng.randrange(60) if changed else 0,
                       rng.randrange(30) if changed else 0)
            made += 1
            yield (
                f"evt_{made:012x}", agent, at, hashes[command], duration_ms, exit_code, int(timed_out),
                git[0], git[1], git[2],
                rng.random() * 100 if scored else None, "duration_ms" if scored else None,
                rng.gauss(0, 5) if scored else None, "model-bench" if scored else None,
                at, at + duration_ms / 1000, f"ses_{session:08d}", repo, PROGRAMS[command % len(PROGRAMS)],
                git[3], git[4], git[5], at + 1 if scored else None,
            )
            previous_failed = exit_code != 0
            at += duration_ms / 1000 + rng.expovariate(1 / 20)


def build_store(directory: Path, count: int, seed: int, with_text: bool = False) -> None:
    """The bulk path: one transaction of executemany straight into the store's tables. With
    `with_text`, each event also carries a command line (as a hook stores it, redacted)."""
    from devtrace.store import create_store

    conn = create_store(directory)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    columns = ("id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out,"
               " files_touched_count, lines_added, lines_deleted, predicted_productivity, top_contribution_feature,"
               " top_contribution_value, model_ref, started_at, ended_at, session_id, repo_id, program, delta_files,"
               " delta_lines_added, delta_lines_deleted, scored_at")
    rows = synthetic_events(count, seed)
    if with_text:
        columns += ", command_text"
        rows = (row + (_command_line(row[18], row[3]),) for row in rows)
    conn.executemany(
        f"INSERT INTO command_events ({columns}) VALUES ({', '.join('?' * len(columns.split(',')))})", rows
    )
    rng = random.Random(seed + 1)
    labels = [
        (f"evt_{rng.randrange(1, count + 1):012x}", round(rng.random() * 100, 1), source, "bench", None,
         START + DAYS * 86_400 + i)
        for i, source in enumerate(["human"] * (count // 100) + ["pseudo"] * (count // 20))
    ]
    conn.executemany(
        "INSERT INTO labels (event_id, value, source, labeled_by, note, created_at) VALUES (?, ?, ?, ?, ?, ?)", labels
    )
    conn.execute("COMMIT")
    conn.close()


def _command_line(program: str | None, command_hash: str) -> str:
    """A plausible command line of 60-80 characters for the program, one per command."""
    i = int(command_hash[:8], 16)
    return f"{program or 'sh'} -q tests/test_module_{i % 97:02d}.py -k 'case_{i % 13} and not slow' --maxfail={i % 5 + 1}"


def build_native_copy(store: Path, native: Path) -> None:
    import duckdb

    from devtrace.analytics import connection as analytics

    con = duckdb.connect(str(native), config=analytics.OFFLINE_CONFIG)
    con.execute(f"LOAD '{analytics.extension_path()}'")
    con.execute(f"ATTACH '{store / 'devtrace.db'}' AS sqlite_store (TYPE sqlite, READ_ONLY)")
    tables = [name for name, in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'sqlite_store'").fetchall()]
    for table in tables:  # every table the views read (identities across keys, agent usage, prices, ...)
        con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM sqlite_store."{table}"')
    con.close()


# --- the sqlite3 equivalents --------------------------------------------------------------

def quantile_cont(p: float) -> str:
    """DuckDB's quantile_cont(duration_ms, p) over a group whose rows carry `i` (0-based rank by
    duration) and `n` (group size): interpolate between the ranks around p * (n - 1)."""
    at = f"{p} * (n - 1)"
    low = f"CAST({at} AS INTEGER)"
    return (f"sum(CASE WHEN i = {low} THEN duration_ms * (1 - ({at} - {low}))"
            f" WHEN i = {low} + 1 THEN duration_ms * ({at} - {low}) ELSE 0 END)")


def ranked(partition: str) -> str:
    return (f"row_number() OVER (PARTITION BY {partition} ORDER BY duration_ms) - 1 AS i,"
            f" count(*) OVER (PARTITION BY {partition}) AS n")


SQLITE = {
    "daily_activity": f"""
        WITH e AS (SELECT *, date(executed_at, 'unixepoch') AS day FROM command_events),
        r AS (SELECT *, {ranked('day, agent_id')} FROM e)
        SELECT day, agent_id, count(*) AS commands, sum(exit_code <> 0) AS failures,
            sum(timed_out <> 0) AS timeouts, avg(exit_code <> 0) AS failure_rate,
            sum(delta_lines_added) AS lines_added, sum(delta_lines_deleted) AS lines_deleted,
            {quantile_cont(0.5)} AS median_duration_ms, {quantile_cont(0.95)} AS p95_duration_ms,
            avg(predicted_productivity) AS mean_predicted_productivity
        FROM r GROUP BY day, agent_id""",
    "agent_summary": f"""
        WITH r AS (SELECT *, {ranked('agent_id')} FROM command_events)
        SELECT agent_id, count(*) AS commands, sum(exit_code <> 0) AS failures,
            sum(timed_out <> 0) AS timeouts, avg(exit_code <> 0) AS failure_rate,
            sum(delta_lines_added) AS lines_added, sum(delta_lines_deleted) AS lines_deleted,
            {quantile_cont(0.5)} AS median_duration_ms, {quantile_cont(0.95)} AS p95_duration_ms,
            avg(predicted_productivity) AS mean_predicted_productivity,
            count(DISTINCT date(executed_at, 'unixepoch')) AS active_days,
            min(executed_at) AS first_seen, max(executed_at) AS last_seen
        FROM r GROUP BY agent_id""",
    "command_stats top 20": f"""
        WITH r AS (SELECT *, {ranked('command_hash, program')} FROM command_events)
        SELECT command_hash, program, count(*) AS runs, sum(exit_code <> 0) AS failures,
            avg(exit_code <> 0) AS failure_rate,
            {quantile_cont(0.5)} AS median_duration_ms, {quantile_cont(0.95)} AS p95_duration_ms,
            avg(delta_lines_added + delta_lines_deleted) AS mean_churn,
            count(DISTINCT agent_id) AS agents, max(executed_at) AS last_run
        FROM r GROUP BY command_hash, program ORDER BY runs DESC, command_hash LIMIT 20""",
    "retry_loops": """
        WITH runs AS (
            SELECT id, session_id, agent_id, command_hash, program, started_at, ended_at,
                exit_code <> 0 AS failed,
                coalesce(lag(exit_code <> 0) OVER w AND started_at - lag(ended_at) OVER w <= 300, 0) AS is_retry
            FROM command_events WHERE session_id IS NOT NULL
            WINDOW w AS (PARTITION BY session_id, agent_id, command_hash ORDER BY started_at, id)
        ),
        numbered AS (
            SELECT *, sum(NOT is_retry) OVER (PARTITION BY session_id, agent_id, command_hash
                ORDER BY started_at, id ROWS UNBOUNDED PRECEDING) AS loop_number
            FROM runs
        ),
        last_first AS (
            SELECT *, row_number() OVER (PARTITION BY session_id, agent_id, command_hash, loop_number
                ORDER BY started_at DESC, id DESC) AS from_last
            FROM numbered
        )
        SELECT session_id, agent_id, command_hash, program, min(started_at) AS started_at,
            max(ended_at) AS ended_at, count(*) AS runs, count(*) - 1 AS retries, sum(failed) AS failures,
            max(CASE WHEN from_last = 1 THEN NOT failed END) AS resolved
        FROM last_first GROUP BY session_id, agent_id, command_hash, program, loop_number
        HAVING count(*) > 1""",
}


# --- one way, in its own process ----------------------------------------------------------

def worker(way: str, store: Path, native: Path, repeats: int) -> dict:
    """Time the dashboard set `repeats` times; return timings, answers and peak memory."""
    started = time.perf_counter()
    if way == "sqlite3":
        conn = sqlite3.connect(f"file:{store / 'devtrace.db'}?mode=ro", uri=True)
        queries, run = SQLITE, lambda sql: conn.execute(sql).fetchall()
    else:
        import duckdb

        from devtrace.analytics import connection as analytics

        if way == "views":
            con = analytics.connect(store)
        else:
            con = duckdb.connect(config=analytics.OFFLINE_CONFIG)
            con.execute(f"ATTACH '{native}' AS {analytics.STORE_ALIAS} (READ_ONLY)")
            for view in analytics.views():
                con.execute(Path(view.file).read_text())
        queries, run = DASHBOARD, lambda sql: con.sql(sql).fetchall()
    connect_s = time.perf_counter() - started
    seconds, answers = timed_rounds(queries, run, repeats)
    outcomes = timed_rounds(OUTCOMES, run, repeats)[0] if way == "views" else {}
    return {"connect_s": connect_s, "seconds": seconds, "peak_kib": peak_kib(), "outcomes": outcomes,
            "answers": {name: canonical(rows) for name, rows in answers.items()}}


def canonical(rows: list[tuple]) -> list[list]:
    """Rows in one comparable form: timestamps as unix seconds, dates as text, bools as ints."""
    def value(v):
        if isinstance(v, datetime):
            return v.replace(tzinfo=UTC).timestamp()
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, bool):
            return int(v)
        return v

    return sorted(([value(v) for v in row] for row in rows), key=lambda r: [(x is None, str(x)) for x in r])


def same(a: list[list], b: list[list]) -> bool:
    def close(x, y):
        if isinstance(x, float) or isinstance(y, float):
            return x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-3)
        return x == y

    return len(a) == len(b) and all(len(r) == len(s) and all(map(close, r, s)) for r, s in zip(a, b, strict=True))


# --- the run ------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="Keep the stores here (default: a temp dir, removed).")
    parser.add_argument("--worker", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="devtrace-analytics-bench-"))
    store, native = work / "store", work / "native.duckdb"
    if args.worker:
        json.dump(worker(args.worker, store, native, args.repeats), sys.stdout)
        return
    try:
        print(f"building {args.events:,} events in {store} ...", flush=True)
        t0 = time.perf_counter()
        build_store(store, args.events, args.seed)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        build_native_copy(store, native)
        copied = time.perf_counter() - t0
        size_mib = (store / "devtrace.db").stat().st_size / 2**20
        print(f"store: {size_mib:.0f} MiB, built in {built:.1f} s; native DuckDB copy in {copied:.1f} s", flush=True)
        results = {}
        for way in WAYS:
            print(f"timing {way} ({args.repeats} runs of the set) ...", flush=True)
            done = subprocess.run(
                [sys.executable, __file__, "--worker", way, "--dir", str(work), "--repeats", str(args.repeats)],
                capture_output=True, text=True, check=True,
            )
            results[way] = json.loads(done.stdout)
        report(results, args)
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


def report(results: dict, args) -> None:
    print(f"\n{args.events:,} events · median of {args.repeats} runs · {os.cpu_count()} cores · seconds")
    print(f"{'':24}" + "".join(f"{way:>10}" for way in WAYS))
    for name in DASHBOARD:
        print(f"{name:24}" + "".join(f"{statistics.median(results[w]['seconds'][name]):10.3f}" for w in WAYS))
    set_s = {way: set_seconds(results[way]["seconds"]) for way in WAYS}
    print(f"{'dashboard set':24}" + "".join(f"{set_s[w]:10.3f}" for w in WAYS))
    print(f"{'connect (once)':24}" + "".join(f"{results[w]['connect_s']:10.3f}" for w in WAYS))
    print(f"{'peak memory (MiB)':24}" + "".join(f"{results[w]['peak_kib'] / 1024:10.0f}" for w in WAYS))
    speedup = set_s["sqlite3"] / set_s["views"]
    slowdown = set_s["views"] / set_s["native"]
    peak_mib = results["views"]["peak_kib"] / 1024
    print(f"\nviews vs sqlite3: {speedup:.1f}x faster (target >= 4x) {'ok' if speedup >= 4 else 'MISSED'}")
    print(f"views vs native:  {slowdown:.1f}x slower (target <= 3x) {'ok' if slowdown <= 3 else 'MISSED'}")
    print(f"views peak memory: {peak_mib:.0f} MiB (target < 1024) {'ok' if peak_mib < 1024 else 'MISSED'}")
    for name, samples in results["views"]["outcomes"].items():
        median = statistics.median(samples)
        print(f"{name} (views): {median:.3f} s (target <= {OUTCOME_TARGET_S:g} s) "
              f"{'ok' if median <= OUTCOME_TARGET_S else 'MISSED'}")
    for name in DASHBOARD:
        answers = [results[w]["answers"][name] for w in WAYS]
        agree = all(same(answers[0], other) for other in answers[1:])
        print(f"answers of {name}: {len(answers[0]):,} rows, {'the same three ways' if agree else 'DIFFER'}")


if __name__ == "__main__":
    main()

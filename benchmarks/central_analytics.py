"""Central analytics at organisation scale: the DuckLake tier vs postgres_scanner vs a native
DuckDB table, on 20,000,000 events, in one run.

A throwaway PostgreSQL 15 cluster holds the central database (the production set-up: ingestion
tables in PostgreSQL, the lake's catalog in the same database, its Parquet files in a folder).
The events are generated inside DuckDB (10,000 machines, sessions of ~150 commands over 30
UTC days, 1% human labels) and written straight into PostgreSQL (postgres_scanner's COPY),
into the lake and into a native DuckDB file. Then, each in a fresh process (peak memory =
its VmHWM):
  lake      `devtrace.connect(central=URL)`: the lake plus the (empty) ingestion tail
  scanner   `devtrace.connect(central=URL, lake=False)`: the tables through postgres_scanner
  native    the same views over a native DuckDB table
answer the dashboard set (daily_activity, agent_summary, command_stats top 20, retry_loops) as Polars
frames, as `devtrace.sql` and the notebooks get them;
a one-day window is timed on the 30-day lake and on a lake holding only that day; the flush
moves a fresh ingestion tail into the lake; sizes are printed as bytes per event.
Targets (issue 13): lake >= 10x faster than the scanner and within 2x of native; the one-day
window on 30 days <= 2x the same on one day; flush >= 200,000 events/s; peak memory < 2 GiB.

With --lake-data s3://bucket/prefix the lakes' Parquet files go to object storage (credentials
and endpoint from the AWS_* variables, as for `devtrace server`; the one-day lake under
<prefix>-one-day), and each dashboard view, and the one-day window, also runs once on a fresh
connection with DuckDB's HTTP log on: the requests it made and the objects it read are
printed. (Against a test server such as moto's the seconds say nothing of object storage.)
--s3-test-server starts moto's S3 server on loopback for the run (as the tests do), with a
bucket and the AWS_* variables pointing at it, and puts the lakes there:

    python benchmarks/central_analytics.py [--events 20000000] [--tail 2000000] [--repeats 3] [--lake-data s3://…]
    python benchmarks/central_analytics.py --events 5000000 --tail 1000000 --s3-test-server
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from timing import DASHBOARD, peak_kib, set_seconds, timed_rounds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

WAYS = ("lake", "scanner", "native")
START = 1_782_864_000.0  # 2026-07-01 UTC
DAYS = 30
WINDOW_DAY = "2026-07-16"
AGENTS = "['claude', 'codex', 'aider', 'cursor', 'gemini', 'copilot', 'goose', 'dev-ana', 'dev-bo', NULL]"
PROGRAMS = ("['pytest', 'make', 'npm', 'cargo', 'go', 'git', 'ruff', 'mypy', 'tsc', 'docker', 'uv', 'sed', 'bash', "
            "'python', 'node', 'jest', 'gradle', 'mvn', 'rg', 'ls', 'cat', 'tox', 'black', 'eslint', 'curl']")
COLUMNS = ("id, agent_id, executed_at, command_hash, duration_ms, exit_code, timed_out, files_touched_count, lines_added, "
           "lines_deleted, predicted_productivity, top_contribution_feature, top_contribution_value, model_ref, "
           "started_at, ended_at, session_id, repo_id, program, delta_files, delta_lines_added, delta_lines_deleted, "
           "scored_at, author_kind, captured_by, duration_approximate, key_fingerprint, machine, received_at")
LABEL_COLUMNS = "event_id, client_label_id, value, source, labeled_by, note, created_at, machine, received_at"


def generate(con, count: int, first: int = 0) -> None:
    """Table `gen` (and `gen_labels`): `count` events shaped as the central ingestion table."""
    con.execute("CREATE OR REPLACE TEMP TABLE commands AS SELECT i AS idx, sha256('command ' || i) AS hash FROM range(2000) t(i)")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE gen AS
        WITH base AS (
            SELECT i, i // 150 AS s, CAST(hash(i) >> 1 AS BIGINT) AS h, CAST(hash(i // 150) >> 1 AS BIGINT) AS hs
            FROM range({first}, {first + count}) t(i)
        ),
        timed AS (
            SELECT *, {START} + hs % ({DAYS} * 86400 - 36000) + (i % 150) * 25.0 + h % 20 AS ts,
                   CAST(exp((h % 1000) / 1000.0 * 9) AS BIGINT) + 1 AS duration_ms,
                   (hs + ((h >> 8) % 8) * 7919) % 2000 AS cmd
            FROM base
        )
        SELECT
            'evt_' || lpad(to_hex(i), 12, '0') AS id,
            {AGENTS}[1 + hs % 10] AS agent_id,
            ts AS executed_at, c.hash AS command_hash, duration_ms,
            CAST(CASE WHEN h % 200 = 0 THEN 124 WHEN h % 100 < 12 THEN 1 ELSE 0 END AS INTEGER) AS exit_code,
            CAST(h % 200 = 0 AS INTEGER) AS timed_out,
            CAST(CASE WHEN hs % 10 > 0 THEN h % 20 END AS BIGINT) AS files_touched_count,
            CAST(CASE WHEN hs % 10 > 0 THEN h % 500 END AS BIGINT) AS lines_added,
            CAST(CASE WHEN hs % 10 > 0 THEN h % 200 END AS BIGINT) AS lines_deleted,
            CASE WHEN h % 10 < 6 THEN (h % 10000) / 100.0 END AS predicted_productivity,
            CASE WHEN h % 10 < 6 THEN 'duration_ms' END AS top_contribution_feature,
            CASE WHEN h % 10 < 6 THEN (h % 1000) / 100.0 - 5 END AS top_contribution_value,
            CASE WHEN h % 10 < 6 THEN 'model-bench' END AS model_ref,
            ts AS started_at, ts + duration_ms / 1000.0 AS ended_at,
            'ses_' || s AS session_id,
            CASE WHEN hs % 10 > 0 THEN 'repo_' || hs % 3000 END AS repo_id,
            {PROGRAMS}[1 + cmd % 25] AS program,
            CAST(CASE WHEN hs % 10 > 0 THEN CASE WHEN h % 10 < 4 THEN 1 + h % 4 ELSE 0 END END AS BIGINT) AS delta_files,
            CAST(CASE WHEN hs % 10 > 0 THEN CASE WHEN h % 10 < 4 THEN h % 60 ELSE 0 END END AS BIGINT) AS delta_lines_added,
            CAST(CASE WHEN hs % 10 > 0 THEN CASE WHEN h % 10 < 4 THEN h % 30 ELSE 0 END END AS BIGINT) AS delta_lines_deleted,
            CASE WHEN h % 10 < 6 THEN ts + 1 END AS scored_at,
            CASE WHEN hs % 10 < 9 THEN 'agent' ELSE 'human' END AS author_kind,
            CASE WHEN hs % 10 < 9 THEN 'claude-code' ELSE 'bash' END AS captured_by,
            0 AS duration_approximate,
            '0123456789abcdef' AS key_fingerprint,
            'machine-' || hs % 10000 AS machine,
            ts + 5 AS received_at
        FROM timed JOIN commands AS c ON c.idx = timed.cmd""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE gen_labels AS
        SELECT id AS event_id, row_number() OVER () AS client_label_id, (hash(id) % 1000) / 10.0 AS value,
               'human' AS source, 'bench' AS labeled_by, NULL::VARCHAR AS note, executed_at + 3600 AS created_at,
               machine, executed_at + 3605 AS received_at
        FROM gen WHERE hash(id) % 100 = 0""")


def data_paths(args) -> tuple[str, str]:
    """The lake's and the one-day lake's data paths: local folders, or under --lake-data."""
    if args.lake_data:
        return args.lake_data.rstrip("/"), args.lake_data.rstrip("/") + "-one-day"
    return os.path.join(args.dir, "lake-data"), os.path.join(args.dir, "one-day-lake-data")


def build(url: str, one_day_url: str, work: str, events: int, lake_data: str, one_day_data: str) -> dict:
    """Fill PostgreSQL, the lake (catalog in PostgreSQL) and a native DuckDB file; a second
    lake holds only WINDOW_DAY. Returns timings."""
    from devtrace.central.lake import flush, writer

    timings = {}
    con = writer.connect(url, data_path=lake_data)
    flush.ensure_tables(con)
    con.execute("SET preserve_insertion_order = false")
    t0 = time.perf_counter()
    generate(con, events)
    timings["generate"] = time.perf_counter() - t0
    print(f"generated {events:,} events in {timings['generate']:.1f} s", flush=True)

    t0 = time.perf_counter()
    copy_into_postgres(con, url, work)
    timings["postgres"] = time.perf_counter() - t0
    print(f"into PostgreSQL (COPY) in {timings['postgres']:.1f} s", flush=True)

    t0 = time.perf_counter()
    fill_lake(con, "gen")
    timings["lake"] = time.perf_counter() - t0
    print(f"into the lake in {timings['lake']:.1f} s", flush=True)

    t0 = time.perf_counter()
    con.execute(f"ATTACH '{os.path.join(work, 'native.duckdb')}' AS nat")
    con.execute("CREATE TABLE nat.command_events AS SELECT *, NULL::BIGINT AS seq FROM gen")
    con.execute("CREATE TABLE nat.labels AS SELECT *, row_number() OVER () AS id FROM gen_labels")
    con.execute("DETACH nat")
    timings["native"] = time.perf_counter() - t0
    con.close()

    one = writer.connect(one_day_url, data_path=one_day_data)
    flush.ensure_tables(one)
    one.execute(f"ATTACH '{url}' AS pg (TYPE postgres, READ_ONLY)")
    one.execute(f"CREATE TEMP TABLE gen AS SELECT * EXCLUDE (seq) FROM pg.command_events "
                f"WHERE executed_at >= epoch(TIMESTAMP '{WINDOW_DAY}') AND executed_at < epoch(TIMESTAMP '{WINDOW_DAY}') + 86400")
    one.execute("CREATE TEMP TABLE gen_labels AS SELECT * EXCLUDE (id) FROM pg.labels WHERE event_id IN (SELECT id FROM gen)")
    fill_lake(one, "gen")
    one.close()
    return timings


def copy_into_postgres(con, url: str, work: str) -> None:
    """gen and gen_labels into the ingestion tables: DuckDB writes CSV files, PostgreSQL reads
    them with a server-side COPY (several times faster than rows sent through a client)."""
    import psycopg

    os.chmod(work, 0o755)
    with psycopg.connect(url) as pg:
        # Secondary indexes are dropped for the load and built again after, as a restore does.
        indexes = pg.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('command_events', 'labels') "
                             "AND indexname IN ('command_events_executed_at', 'command_events_machine', 'labels_event')").fetchall()
        for name, _ in indexes:
            pg.execute(f"DROP INDEX {name}")
        for table, columns, source in (("command_events", COLUMNS, "gen"), ("labels", LABEL_COLUMNS, "gen_labels")):
            file = os.path.join(work, f"{source}.csv")
            con.execute(f"COPY (SELECT {columns} FROM {source}) TO '{file}' (HEADER false)")
            os.chmod(file, 0o644)
            pg.execute(f"COPY {table} ({columns}) FROM '{file}' (FORMAT csv)")
            os.remove(file)
        for _, definition in indexes:
            pg.execute(definition)
        pg.execute("ANALYZE command_events")
        pg.execute("ANALYZE labels")


def fill_lake(con, source: str) -> None:
    """Straight into the lake (as a flush would write it), with a watermark covering it."""
    from devtrace.central.lake.writer import DAY_OF_EXECUTED_AT

    con.execute("BEGIN")
    con.execute(f"INSERT INTO lake.command_events BY NAME SELECT *, {DAY_OF_EXECUTED_AT} AS day FROM {source}")
    con.execute(f"INSERT INTO lake.labels BY NAME SELECT * FROM {source}_labels")
    con.execute("INSERT INTO lake.flushes SELECT epoch(now()), (SELECT max(seq) FROM ingest.command_events), "
                f"(SELECT max(id) FROM ingest.labels), 0, (SELECT count(*) FROM {source}), "
                f"(SELECT count(*) FROM {source}_labels), 0")
    con.execute("COMMIT")


def worker(way: str, url: str, work: str, repeats: int, window: bool, remote: bool) -> dict:
    import duckdb

    from devtrace import analytics
    from devtrace.analytics.central import LOCAL_ONLY_TABLES, MEMORY_LIMIT, agent_tables, events_view, labels_view
    from devtrace.analytics.connection import OFFLINE_CONFIG
    from devtrace.analytics.filters import filter_events

    started = time.perf_counter()
    if way == "native":  # with the memory bound a central connection has
        con = duckdb.connect(config=OFFLINE_CONFIG)
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = '{tempfile.mkdtemp(dir=work)}'")
        con.execute(f"ATTACH '{os.path.join(work, 'native.duckdb')}' AS nat (READ_ONLY)")
        con.execute("ATTACH ':memory:' AS store")
        con.execute("CREATE TABLE store.pushed_usage (machine VARCHAR, agent VARCHAR, session_id VARCHAR, "
                    "model VARCHAR, started_at DOUBLE, ended_at DOUBLE, turns BIGINT, tool_calls BIGINT, "
                    "requests BIGINT, input_tokens BIGINT, output_tokens BIGINT, cache_read_tokens BIGINT, "
                    "cache_write_tokens BIGINT, imported_at DOUBLE, received_at DOUBLE)")
        con.execute(agent_tables("store.pushed_usage"))  # no sessions pushed, as on a fresh central store
        con.execute(events_view("nat.command_events"))
        con.execute(labels_view("nat.labels"))
        con.execute(LOCAL_ONLY_TABLES)
        for view in analytics.views():
            with open(view.file, encoding="utf-8") as f:
                con.execute(f.read())
    else:
        con = analytics.connect(central=url, lake=way != "scanner")
    if window:
        import datetime as dt

        day = dt.date.fromisoformat(WINDOW_DAY)
        filter_events(con, days=(day, day))
    connect_s = time.perf_counter() - started
    seconds, rows = timed_rounds(DASHBOARD, lambda sql: con.execute(sql).pl().height, repeats)
    result = {"connect_s": connect_s, "seconds": seconds, "rows": rows, "peak_kib": peak_kib()}
    if way == "lake" and remote:
        result["requests"] = {name: requests_of(url, sql, window) for name, sql in DASHBOARD.items()}
    return result


def requests_of(url: str, sql: str, window: bool) -> tuple[int, int, int]:
    """(HTTP requests, objects read, command_events objects read) of one query on a fresh
    connection (DuckDB caches what it read), from DuckDB's own HTTP log."""
    from devtrace import analytics
    from devtrace.analytics.filters import filter_events

    with analytics.connect(central=url) as con:
        if window:
            import datetime as dt

            day = dt.date.fromisoformat(WINDOW_DAY)
            filter_events(con, days=(day, day))
        con.execute("CALL enable_logging('HTTP')")
        con.execute(sql).fetchall()
        return con.execute("""
            SELECT count(*),
                   count(DISTINCT request.url) FILTER (WHERE request.type = 'GET' AND request.url LIKE '%.parquet'),
                   count(DISTINCT request.url) FILTER (WHERE request.type = 'GET' AND request.url LIKE '%/command_events/%.parquet')
            FROM duckdb_logs_parsed('HTTP')""").fetchone()


def run_worker(args, way: str, url: str, repeats: int, window: bool = False) -> dict:
    command = [sys.executable, __file__, "--worker", way, "--url", url, "--dir", args.dir, "--repeats", str(repeats)]
    command += (["--window"] if window else []) + (["--lake-data", args.lake_data] if args.lake_data else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {way} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def sizes(url: str, events: int) -> tuple[float, float]:
    import psycopg

    from devtrace.central.lake import writer

    with psycopg.connect(url) as pg:
        pg_bytes = pg.execute("SELECT pg_total_relation_size('command_events') + pg_total_relation_size('labels')").fetchone()[0]
    with writer.connect(url, pinned=True) as con:  # the data files' sizes, as the catalog records them
        lake_bytes = sum(con.execute(f"SELECT coalesce(sum(data_file_size_bytes), 0) FROM ducklake_list_files('lake', '{table}')"
                                     ).fetchone()[0] for table in ("command_events", "labels"))
    return lake_bytes / events, pg_bytes / events


def window_objects(url: str) -> int:
    """How many command_events objects the lake holds for WINDOW_DAY (its partition)."""
    from devtrace.central.lake import writer

    with writer.connect(url, pinned=True) as con:
        return con.execute("SELECT count(*) FROM ducklake_list_files('lake', 'command_events') WHERE data_file LIKE ?",
                           [f"%/day={WINDOW_DAY}/%"]).fetchone()[0]


def flush_tail(url: str, work: str, tail: int, first: int) -> tuple[int, float]:
    """Ingest `tail` more events into PostgreSQL, then time the flush that moves them."""
    from devtrace.central.lake import flush, writer

    con = writer.connect(url)
    generate(con, tail, first)
    copy_into_postgres(con, url, work)
    con.close()
    result = flush.flush(url)
    return result.events, result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--tail", type=int, default=2_000_000, help="Events ingested after, for the flush.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lake-data", help="The lakes' Parquet files under this URL (s3://bucket/prefix) instead of a local folder.")
    parser.add_argument("--s3-test-server", action="store_true",
                        help="Start moto's S3 server on loopback and put the lakes in a bucket there.")
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--window", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        remote = bool(args.lake_data) and "://" in args.lake_data
        json.dump(worker(args.worker, args.url, args.dir, args.repeats, args.window, remote), sys.stdout)
        return
    from devtrace.central.db import open_central
    from tests.postgres_support import start_cluster, stop_cluster

    began = time.perf_counter()
    args.dir = tempfile.mkdtemp(prefix="devtrace-lake-bench-")
    s3 = start_test_s3(args) if args.s3_test_server else None
    cluster = start_cluster()
    try:
        for name in ("bench", "bench_one_day"):
            cluster.run("createdb", "-h", cluster.sockets, "-p", str(cluster.port), "-U", "postgres", name)
        url, one_day_url = cluster.url("bench"), cluster.url("bench_one_day")
        for u in (url, one_day_url):
            open_central(u).close()
        built = build(url, one_day_url, args.dir, args.events, *data_paths(args))
        results = {}
        for way in WAYS:
            print(f"timing {way} ...", flush=True)
            results[way] = run_worker(args, way, url, 1 if way == "scanner" else args.repeats)
        print("timing the one-day window ...", flush=True)
        window_30 = run_worker(args, "lake", url, args.repeats, window=True)
        window_1 = run_worker(args, "lake", one_day_url, args.repeats, window=True)
        lake_bpe, pg_bpe = sizes(url, args.events)
        day_objects = window_objects(url)  # before the flush below adds that day's newest events
        print(f"flushing a tail of {args.tail:,} events ...", flush=True)
        flushed, flush_s = flush_tail(url, args.dir, args.tail, args.events)
        report(args, results, window_30, window_1, built, lake_bpe, pg_bpe, flushed, flush_s)
        if args.lake_data:
            report_requests(results["lake"], window_30, day_objects)
        print(f"\nwhole run: {time.perf_counter() - began:.0f} s")
    finally:
        stop_cluster(cluster)
        if s3:
            from tests.s3_support import stop_s3_server

            stop_s3_server(s3)
        shutil.rmtree(args.dir, ignore_errors=True)


def start_test_s3(args):
    """moto's S3 server on loopback, a bucket, and the variables DevTrace (and the workers,
    which inherit them) read its credentials and endpoint from."""
    from tests.s3_support import start_s3_server

    server = start_s3_server()
    server.client().create_bucket(Bucket="devtrace-bench")
    os.environ.update(AWS_ACCESS_KEY_ID="AKIADEVTRACEBENCH001", AWS_SECRET_ACCESS_KEY="bench-secret",
                      AWS_ENDPOINT_URL=server.endpoint, AWS_REGION="us-east-1")
    for name in ("AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "DEVTRACE_S3_ENDPOINT", "AWS_PROFILE"):
        os.environ.pop(name, None)
    args.lake_data = args.lake_data or "s3://devtrace-bench/lake"
    print(f"moto's S3 server at {server.endpoint}, the lakes under {args.lake_data}", flush=True)
    return server


def report(args, results, window_30, window_1, built, lake_bpe, pg_bpe, flushed, flush_s) -> None:
    print(f"\n{args.events:,} events over {DAYS} UTC days · {os.cpu_count()} cores · seconds "
          f"(median of {args.repeats}; the scanner once)")
    print(f"{'':24}" + "".join(f"{way:>10}" for way in WAYS))
    for name in DASHBOARD:
        print(f"{name:24}" + "".join(f"{statistics.median(results[w]['seconds'][name]):10.3f}" for w in WAYS))
    total = {way: set_seconds(results[way]["seconds"]) for way in WAYS}
    print(f"{'dashboard set':24}" + "".join(f"{total[w]:10.3f}" for w in WAYS))
    print(f"{'connect (once)':24}" + "".join(f"{results[w]['connect_s']:10.3f}" for w in WAYS))
    print(f"{'peak memory (MiB)':24}" + "".join(f"{results[w]['peak_kib'] / 1024:10.0f}" for w in WAYS))
    rows = {name: {results[w]["rows"][name] for w in WAYS} for name in DASHBOARD}
    print("rows: " + ", ".join(f"{n} {next(iter(r)):,}" if len(r) == 1 else f"{n} DIFFER {sorted(r)}" for n, r in rows.items()))
    print("lake vs scanner per query: " + ", ".join(
        f"{n} {statistics.median(results['scanner']['seconds'][n]) / statistics.median(results['lake']['seconds'][n]):.1f}x"
        for n in DASHBOARD))
    faster = total["scanner"] / total["lake"]
    slower = total["lake"] / total["native"]
    window_30_s, window_1_s = set_seconds(window_30["seconds"]), set_seconds(window_1["seconds"])
    window = window_30_s / window_1_s
    rate = flushed / flush_s
    peak = results["lake"]["peak_kib"] / 1024
    print(f"\nlake vs scanner: {faster:.1f}x faster (target >= 10x) {'ok' if faster >= 10 else 'MISSED'}")
    print(f"lake vs native:  {slower:.2f}x (target <= 2x) {'ok' if slower <= 2 else 'MISSED'}")
    print(f"scanner vs native table: {total['scanner'] / total['native']:.1f}x slower")
    print(f"one-day window:  {window_30_s:.3f} s on {DAYS} days vs {window_1_s:.3f} s on 1 day = "
          f"{window:.2f}x (target <= 2x) {'ok' if window <= 2 else 'MISSED'}")
    print(f"flush:           {flushed:,} events in {flush_s:.1f} s = {rate:,.0f} events/s (target >= 200,000) "
          f"{'ok' if rate >= 200_000 else 'MISSED'}")
    print(f"peak memory of the lake's dashboard process: {peak:.0f} MiB (target < 2048) {'ok' if peak < 2048 else 'MISSED'}")
    print(f"size: lake {lake_bpe:.1f} bytes/event (Parquet) vs PostgreSQL {pg_bpe:.1f} bytes/event "
          f"(tables + indexes, labels included) = {pg_bpe / lake_bpe:.1f}x smaller")
    print("build: " + ", ".join(f"{k} {v:.1f} s" for k, v in built.items()))


def report_requests(lake: dict, window: dict, day_objects: int) -> None:
    """Requests and objects per view (first run, fresh connection), all days and one day."""
    if "requests" not in lake:
        return
    print("\nobject storage, each view once on a fresh connection: requests / objects read (command_events objects)")
    print(f"{'':24}{'all 30 days':>22}{'one-day window':>22}")
    for name in DASHBOARD:
        cells = [lake["requests"][name], window["requests"][name]]
        print(f"{name:24}" + "".join(f"{f'{r:,} / {o:,} ({e:,})':>22}" for r, o, e in cells))
    read = {window["requests"][name][2] for name in DASHBOARD}
    print(f"the day {WINDOW_DAY} holds {day_objects:,} command_events objects; the one-day window read "
          f"{', '.join(str(n) for n in sorted(read))} of them per view: "
          f"{'ok' if read == {day_objects} else 'MISSED'}")


if __name__ == "__main__":
    main()

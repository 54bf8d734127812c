"""The central service, measured side by side in one run: PostgreSQL and the SQLite default.

Prints, for a real `devtrace server` process over each database, without the lake's flush
timer (`--flush-every 0`) and with it flushing every second beside the ingestion:
  - ingestion: 8 concurrent client processes posting 1,000-event batches (fresh events),
    events per second over the whole run (target: >= 20,000/s into PostgreSQL without the
    flush timer);
  - the same batches pushed again (all duplicates);
  - with the timer: the lake's event count after one last flush (it must equal the accepted);
then `devtrace sync` of 100,000 local events to the PostgreSQL server (wall time, peak RSS of
the client process), and `devtrace ml pull` of an approved model (first pull, then a pull of
the model already active, which downloads nothing).

PostgreSQL is a throwaway cluster started here with its default durability (fsync on), from
/usr/lib/postgresql/15/bin (as the `postgres` user when run as root).

    python benchmarks/central.py [--clients 8] [--batches 25] [--sync-events 100000]
"""

import argparse
import http.client
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtrace.central import models, tokens  # noqa: E402
from devtrace.central.db import open_central  # noqa: E402
from tests.central_support import Server  # noqa: E402
from tests.postgres_support import start_cluster, stop_cluster  # noqa: E402

GNU_TIME = "/usr/bin/time"
BATCH = 1000


def make_batches(client: int, batches: int) -> list[bytes]:
    now = time.time() - 3600
    bodies = []
    for b in range(batches):
        events = []
        for i in range(BATCH):
            n = (client * batches + b) * BATCH + i
            events.append({
                "id": f"evt_{n:012x}", "agent_id": f"agent-{n % 7}", "executed_at": now + n * 1e-3,
                "command_hash": f"{n % 500:064x}", "duration_ms": 100 + n % 5000, "exit_code": int(n % 9 == 0),
                "timed_out": 0, "files_touched_count": n % 4, "lines_added": n % 40, "lines_deleted": n % 13,
                "started_at": now + n * 1e-3, "ended_at": now + n * 1e-3 + 0.1, "session_id": f"ses_{n // 50:010x}",
                "repo_id": f"repo_{n % 30:016x}", "program": "pytest", "delta_files": n % 2,
                "delta_lines_added": n % 5, "delta_lines_deleted": 0, "key_fingerprint": "0123456789abcdef",
            })
        bodies.append(json.dumps({"schema_version": 1, "events": events}).encode())
    return bodies


def client(port: int, token: str, bodies: list[bytes], start, results) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    accepted = duplicates = 0
    start.wait()
    for body in bodies:
        connection.request("POST", "/v1/telemetry/batch", body=body, headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 200:
            raise SystemExit(f"ingestion failed: {response.status} {answer}")
        accepted += answer["accepted"]
        duplicates += answer["duplicates"]
    results.put((accepted, duplicates))


def ingest_round(port: int, token: str, payloads: list[list[bytes]]) -> tuple[float, int, int]:
    start = multiprocessing.Event()
    results = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=client, args=(port, token, bodies, start, results)) for bodies in payloads]
    for w in workers:
        w.start()
    time.sleep(0.5)
    began = time.perf_counter()
    start.set()
    totals = [results.get() for _ in workers]
    elapsed = time.perf_counter() - began
    for w in workers:
        w.join()
    return elapsed, sum(t[0] for t in totals), sum(t[1] for t in totals)


def ingestion(url: str, label: str, payloads: list[list[bytes]], work: Path, *, flush: bool) -> list[str]:
    token = _token(url, "bench", "ingest")
    lake_data = work / f"lake-{label.split()[0].lower()}"
    timer = ["--flush-every", "1", "--lake-data", str(lake_data)] if flush else ["--flush-every", "0"]
    server = Server(url, *timer)
    lines = []
    try:
        for kind in ("fresh", "duplicates"):
            elapsed, accepted, duplicates = ingest_round(server.port, token, payloads)
            total = accepted + duplicates
            lines.append(f"| {label} | {'every 1 s' if flush else 'off'} | {kind} | {total:,} | {elapsed:.2f} s "
                         f"| {total / elapsed:,.0f} events/s | accepted {accepted:,}, duplicates {duplicates:,} |")
    finally:
        server.stop()
    if flush:
        from devtrace.central.lake.flush import flush as flush_lake
        from devtrace.central.lake.writer import connect

        flush_lake(url)
        with connect(url, pinned=True) as con:
            in_lake = con.execute("SELECT count(*) FROM lake.command_events").fetchone()[0]
        lines.append(f"| {label} | every 1 s | lake after a last flush | {in_lake:,} | | | "
                     f"{'= accepted' if in_lake == sum(len(b) for b in payloads) * BATCH else 'MISMATCH'} |")
    return lines


def _token(url: str, name: str, scope: str) -> str:
    db = open_central(url)
    try:
        return tokens.create(db, name, scope)
    finally:
        db.close()


def run(argv: list[str], cwd: Path) -> tuple[float, int | None, str]:
    """Wall seconds, peak RSS (KiB, via GNU time) and stdout of one CLI process."""
    command = [sys.executable, "-m", "devtrace", *argv]
    timed = os.access(GNU_TIME, os.X_OK)
    if timed:
        command = [GNU_TIME, "-f", "%M", *command]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"devtrace {' '.join(argv)} failed: {done.stderr}")
    peak = int(done.stderr.strip().splitlines()[-1]) if timed else None
    return elapsed, peak, done.stdout


def local_store(folder: Path, events: int) -> Path:
    subprocess.run([sys.executable, "-m", "devtrace", "init", "--path", str(folder)], check=True, capture_output=True)
    now = time.time() - 7200
    conn = sqlite3.connect(folder / "devtrace.db")
    rows = [(f"evt_s{n:011x}", "codex", now + n * 1e-3, f"{n % 300:064x}", 120, n % 5 == 0, 0, now + n * 1e-3,
             now + n * 1e-3 + 0.12, f"ses_{n // 40:08x}", "make") for n in range(events)]
    conn.executemany("INSERT INTO command_events (id, agent_id, executed_at, command_hash, duration_ms, exit_code,"
                     " timed_out, started_at, ended_at, session_id, program) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()
    return folder


def sync_and_pull(url: str, work: Path, events: int) -> list[str]:
    server = Server(url)
    lines = []
    try:
        store = local_store(work / "sync-store", events)
        run(["sync", "login", "--server", server.address, "--token", _token(url, "syncer", "ingest"),
             "--path", str(store)], work)
        elapsed, peak, out = run(["sync", "--path", str(store)], work)
        sent = out.splitlines()[0]
        lines.append(f"| devtrace sync, {events:,} events → PostgreSQL | {elapsed:.2f} s "
                     f"({events / elapsed:,.0f} events/s) | {_mib(peak)} | {sent} |")

        lab = work / "lab"
        run(["ml", "generate", "--out", str(work / "d.csv"), "--rows", "20000"], work)
        run(["ml", "train", "--dataset", str(work / "d.csv"), "--path", str(lab)], work)
        run(["init", "--path", str(lab)], work)
        run(["sync", "login", "--server", server.address, "--token", _token(url, "lab", "admin"), "--path", str(lab)], work)
        run(["ml", "publish", "v1", "--path", str(lab)], work)
        db = open_central(url)
        try:
            models.approve(db, "lab.v1", "bench")
        finally:
            db.close()
        size = len((lab / "models" / "v1" / "model.json").read_bytes())
        worker = work / "worker"
        run(["init", "--path", str(worker)], work)
        run(["sync", "login", "--server", server.address, "--token", _token(url, "worker", "ingest"),
             "--path", str(worker)], work)
        for what in ("first pull", "already active (ETag)"):
            elapsed, peak, out = run(["ml", "pull", "--path", str(worker)], work)
            lines.append(f"| devtrace ml pull, {what}, model.json {size / 1024:,.0f} KiB | {elapsed:.2f} s | {_mib(peak)} "
                         f"| {out.strip()[:60]} |")
    finally:
        server.stop()
    return lines


def _mib(kib: int | None) -> str:
    return f"{kib / 1024:.0f} MiB" if kib else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batches", type=int, default=25, help="1,000-event batches per client")
    parser.add_argument("--sync-events", type=int, default=100_000)
    args = parser.parse_args()
    payloads = [make_batches(c, args.batches) for c in range(args.clients)]
    print(f"{os.cpu_count()} cores; {args.clients} clients × {args.batches} batches × {BATCH} events\n")
    cluster = start_cluster(durable=True)
    try:
        with tempfile.TemporaryDirectory(prefix="devtrace-bench-central-") as scratch:
            work = Path(scratch)
            for name in ("ingest", "ingest_flushed", "sync"):
                done = cluster.run("createdb", "-h", cluster.sockets, "-p", str(cluster.port), "-U", "postgres", name)
                if done.returncode:
                    raise SystemExit(done.stderr)
            print("| database | flush timer | batches | events | wall | rate | answers |")
            print("|---|---|---|---|---|---|---|")
            for url, label, flush in ((cluster.url("ingest"), "PostgreSQL 15", False),
                                      (cluster.url("ingest_flushed"), "PostgreSQL 15", True),
                                      (str(work / "central.db"), "SQLite (WAL)", False),
                                      (str(work / "flushed.db"), "SQLite (WAL)", True)):
                for line in ingestion(url, label, payloads, work, flush=flush):
                    print(line, flush=True)
            print("\n| step | wall | peak RSS | output |")
            print("|---|---|---|---|")
            for line in sync_and_pull(cluster.url("sync"), work, args.sync_events):
                print(line, flush=True)
    finally:
        stop_cluster(cluster)


if __name__ == "__main__":
    main()

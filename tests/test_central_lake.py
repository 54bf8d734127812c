"""The DuckLake tier: flush, reads of lake + tail, retention and erasure, on a real PostgreSQL
catalog and on the embedded default (SQLite central database + SQLite catalog file), with
real Parquet files."""

import datetime as dt
import glob
import os
import signal
import sqlite3
import subprocess
import sys
import time

import duckdb
import pytest

from devtrace.analytics import connect, views
from devtrace.central.db import open_central
from devtrace.central.ingest import store_events, store_labels
from devtrace.central.lake import admin, flush, ingest_tables, writer
from devtrace.central.payloads import Event, Label, validate
from devtrace.ml.synthetic import generate
from tests.postgres_support import DATABASES

OLD_ENOUGH = 3650.0  # the synthetic events are from early 2026: accept them whatever today is


@pytest.fixture(params=DATABASES)
def central(request, tmp_path):
    """A migrated central database URL: the embedded default or a fresh PostgreSQL database;
    the lake's data files go under tmp_path/lake-data."""
    url = str(tmp_path / "central.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    open_central(url).close()
    return url


@pytest.fixture
def lake_data(tmp_path):
    return str(tmp_path / "lake-data")


def push(url: str, frame, machine: str, *, labels_every: int = 0) -> None:
    """Ingest events (and a human label on every labels_every-th one) through the server's path."""
    db = open_central(url)
    try:
        rows = frame.drop("productivity_label").to_dicts()
        for start in range(0, len(rows), 2000):
            events, rejected = validate(Event, rows[start:start + 2000], "id")
            assert not rejected
            store_events(db, machine, events, [], OLD_ENOUGH)
        if labels_every:
            items = [{"event_id": r["id"], "client_label_id": i + 1, "value": float(r["productivity_label"]),
                      "source": "human", "labeled_by": machine, "created_at": r["executed_at"] + 60}
                     for i, r in enumerate(frame.to_dicts()) if i % labels_every == 0]
            labels, rejected = validate(Label, items, "event_id")
            assert not rejected
            store_labels(db, machine, labels, [], OLD_ENOUGH)
    finally:
        db.close()


def ingestion_totals(url: str) -> tuple:
    with ingest_tables.transaction(url) as tx:
        events = tx.execute("SELECT count(*), count(DISTINCT id), sum(duration_ms), sum(delta_lines_added), "
                            "sum(executed_at) FROM command_events")[0]
        labels = tx.execute("SELECT count(*), sum(value) FROM labels")[0]
    return tuple(events) + tuple(labels)


def lake_totals(url: str) -> tuple:
    with writer.connect(url, pinned=True) as con:
        events = con.execute("SELECT count(*), count(DISTINCT id), sum(duration_ms), sum(delta_lines_added), "
                             "sum(executed_at) FROM lake.command_events").fetchone()
        labels = con.execute("SELECT count(*), sum(value) FROM lake.labels").fetchone()
    return tuple(events) + tuple(labels)


def same(a: tuple, b: tuple) -> bool:
    return all(x == pytest.approx(y) for x, y in zip(a, b, strict=True))


def test_flush_moves_every_event_and_label_once(central, lake_data):
    frame = generate(3000, seed=1)
    push(central, frame[:2000], "alice", labels_every=10)
    first = flush.flush(central, data_path=lake_data)
    assert (first.events, first.labels) == (2000, 200)
    assert same(lake_totals(central), ingestion_totals(central))

    again = flush.flush(central)
    assert (again.events, again.labels, again.scores) == (0, 0, 0)

    push(central, frame[2000:], "bob", labels_every=5)
    later = flush.flush(central, chunk_events=300)  # several lake transactions
    assert (later.events, later.labels) == (1000, 200)
    assert same(lake_totals(central), ingestion_totals(central))
    days = {os.path.basename(os.path.dirname(f)) for f in glob.glob(f"{lake_data}/**/command_events/*/*.parquet",
                                                                       recursive=True)}
    assert days and all(d.startswith("day=2026-") for d in days)  # one folder per UTC day


FLUSH_SCRIPT = """
import sys
from devtrace.central.lake import flush
flush.flush(sys.argv[1], data_path=sys.argv[2], chunk_events=int(sys.argv[3]))
"""


def test_a_flush_killed_at_any_point_then_run_again_leaves_each_event_once(central, lake_data):
    push(central, generate(12000, seed=2), "alice", labels_every=7)
    total = ingestion_totals(central)

    def files() -> int:
        return len(glob.glob(f"{lake_data}/**/*.parquet", recursive=True))

    # Each flush is killed once the lake folder holds `written` Parquet files (a chunk of 3,000
    # events writes about sixteen; a flush first writes again what a killed one left
    # uncommitted): as it starts, within the first chunk, and later, after commits.
    for written in (0, 1, 5, 20, 35, 50):
        child = subprocess.Popen([sys.executable, "-c", FLUSH_SCRIPT, central, lake_data, "3000"])
        while files() < written and child.poll() is None:
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
    flush.flush(central, data_path=lake_data)  # the kills may all have come before the lake existed
    assert same(lake_totals(central), total)
    admin.maintain(central, keep_hours=0)  # merges files, removes what killed flushes left behind
    assert same(lake_totals(central), total)
    listed = {f for f in glob.glob(f"{lake_data}/**/*.parquet", recursive=True)}
    with writer.connect(central, pinned=True) as con:
        known = {r[0] for r in con.execute("SELECT data_file FROM ducklake_list_files('lake', 'command_events') "
                                           "UNION ALL SELECT data_file FROM ducklake_list_files('lake', 'labels') "
                                           "UNION ALL SELECT data_file FROM ducklake_list_files('lake', 'flushes')"
                                           ).fetchall()}
    assert listed == known  # no orphan Parquet file left


@pytest.mark.parametrize("left", ["an empty file", "a catalog with no tables"])
def test_a_catalog_whose_creation_was_killed_is_created_again(tmp_path, lake_data, left):
    """A flush killed while DuckLake creates the embedded catalog leaves the file without its
    tables; the next flush must create them, not fail on the missing `ducklake_metadata`."""
    central = str(tmp_path / "central.db")
    open_central(central).close()
    push(central, generate(500, seed=3), "alice")
    catalog = central + "-lake.sqlite"
    if left == "an empty file":
        open(catalog, "wb").close()
    else:
        sqlite3.connect(catalog).execute("PRAGMA user_version = 0").connection.close()
    assert not writer.lake_exists(central)
    done = flush.flush(central, data_path=lake_data)
    assert done.events == 500
    assert writer.lake_exists(central)
    assert same(lake_totals(central), ingestion_totals(central))


def analytics(url: str) -> duckdb.DuckDBPyConnection:
    """What `--central URL` analytics read: the lake and the tail."""
    return connect(central=url)


def test_reads_see_the_unflushed_tail_at_once(central, lake_data):
    frame = generate(1200, seed=3)
    push(central, frame[:1000], "alice")
    flush.flush(central, data_path=lake_data)
    with analytics(central) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 1000
        push(central, frame[1000:], "bob", labels_every=1)  # pushed a moment ago, not flushed
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone() == (1200, 1200)
        assert con.execute("SELECT count(human_label) FROM events").fetchone()[0] == 200
        flush.flush(central)  # a flush committing under an open reader changes nothing it counts
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone() == (1200, 1200)
    with analytics(central) as con:
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone() == (1200, 1200)


def test_every_view_answers_the_same_over_the_lake_and_the_ingestion_database(central, lake_data):
    frame = generate(4000, seed=4)
    push(central, frame[:3000], "alice", labels_every=9)
    flush.flush(central, data_path=lake_data)
    push(central, frame[3000:], "bob", labels_every=4)  # part stays in the tail
    with analytics(central) as over_lake, connect(central=central, lake=False) as over_ingestion:
        for view in [v.name for v in views()]:
            query = f"SELECT * FROM {view} ORDER BY ALL"
            expected = over_ingestion.execute(query).fetchall()
            assert expected, view
            assert over_lake.execute(query).fetchall() == expected, view


def test_a_day_window_reads_only_that_day_s_partition(central, lake_data):
    from devtrace.analytics.filters import filter_events

    push(central, generate(3000, seed=5), "alice")
    flush.flush(central, data_path=lake_data)
    with analytics(central) as con:
        day = con.execute("SELECT min(CAST(executed_at AS DATE)) + 3 FROM events").fetchone()[0]
        expected = con.execute("SELECT * FROM daily_activity WHERE day = ? ORDER BY ALL", [day]).fetchall()
        filter_events(con, days=(day, day))
        assert con.execute("SELECT * FROM daily_activity ORDER BY ALL").fetchall() == expected
        plan = con.execute("EXPLAIN ANALYZE SELECT count(*) FROM events").fetchall()[0][1]
        assert "Total Files Read: 1" in plan.replace("│", " ").replace("  ", " ") or "Files Read: 1 " in plan


def test_erase_removes_one_machine_everywhere_and_records_who(central, lake_data):
    frame = generate(3000, seed=6)
    push(central, frame[:1500], "alice", labels_every=5)
    push(central, frame[1500:2500], "bob", labels_every=5)
    flush.flush(central, data_path=lake_data)
    push(central, frame[2500:], "bob", labels_every=5)  # bob's tail, not flushed yet
    with analytics(central) as con:
        alice_before = con.execute("SELECT * FROM store.command_events WHERE machine = 'alice' ORDER BY id").fetchall()

    removed = admin.erase(central, "bob", actor="admin-token:carol")
    assert (removed.events, removed.labels) == (1500, 300)
    with analytics(central) as con:
        assert con.execute("SELECT count(*) FROM store.command_events WHERE machine = 'bob'").fetchone()[0] == 0
        assert con.execute("SELECT * FROM store.command_events WHERE machine = 'alice' ORDER BY id").fetchall() == alice_before
    with ingest_tables.transaction(central) as tx:
        assert tx.execute("SELECT count(*) FROM command_events WHERE machine = 'bob'")[0][0] == 0
        assert tx.execute("SELECT count(*) FROM labels WHERE machine = 'bob'")[0][0] == 0
    files = glob.glob(f"{lake_data}/**/*.parquet", recursive=True)
    on_disk = duckdb.sql(f"SELECT count(*) FILTER (WHERE machine = 'bob') FROM read_parquet({files!r}, union_by_name = true) "
                         "WHERE machine IS NOT NULL").fetchone()[0]
    assert on_disk == 0  # no Parquet file under the data path keeps bob's rows
    action, target, actor, at, events, labels = ingest_tables.audit_rows(central)[-1]
    assert (action, target, actor, events, labels) == ("erase", "bob", "admin-token:carol", 1500, 300)
    assert abs(at - time.time()) < 120
    flush.flush(central)  # nothing of bob comes back
    assert same(lake_totals(central), ingestion_totals(central))


def test_retention_drops_old_days_everywhere(central, lake_data):
    frame = generate(3000, seed=7)
    push(central, frame, "alice", labels_every=6)
    flush.flush(central, data_path=lake_data)
    with analytics(central) as con:
        first, last = con.execute("SELECT min(CAST(executed_at AS DATE)), max(CAST(executed_at AS DATE)) FROM events").fetchone()
        cutoff = first + (last - first) / 2
        kept = con.execute("SELECT * FROM events WHERE CAST(executed_at AS DATE) >= ? ORDER BY id", [cutoff]).fetchall()
    today = cutoff + dt.timedelta(days=10)
    removed = admin.retention(central, 10, actor="cli:test", today=today)
    assert removed.events == 3000 - len(kept)
    with analytics(central) as con:
        assert con.execute("SELECT * FROM events ORDER BY id").fetchall() == kept
    assert same(lake_totals(central), ingestion_totals(central))
    assert ingest_tables.audit_rows(central)[-1][:3] == ("retention", cutoff.isoformat(), "cli:test")
    admin.maintain(central, keep_hours=0)  # readers may hold the old files until maintain
    folders = {os.path.basename(p) for p in glob.glob(f"{lake_data}/**/command_events/day=*", recursive=True)
               if glob.glob(f"{p}/*.parquet")}
    assert folders and min(folders) >= f"day={cutoff.isoformat()}"


def wait_for_reads(logs: list, lines: int, timeout: float = 60.0) -> None:
    """Until every reader's log holds at least `lines` reads (readers start in a second or so)."""
    deadline = time.monotonic() + timeout
    while any(log.read_text().count("\n") < lines for log in logs):
        assert time.monotonic() < deadline, [log.read_text()[-500:] for log in logs]
        time.sleep(0.05)


def test_readers_count_each_event_once_while_flushes_commit(central, lake_data, tmp_path):
    """Readers in processes of their own, as analysts are: pushes of 1,000 events (one
    transaction each) and flushes commit meanwhile. Each read counts every event once, sees
    whole pushes only, and never fewer events than an earlier read. (Readers in this test's
    own process would put two copies of SQLite in one process, whose file locks break each
    other: SQLite's documented hazard, which the server avoids the same way.)"""
    frame = generate(6000, seed=8)
    push(central, frame[:1000], "alice")
    flush.flush(central, data_path=lake_data)
    reader = (
        "import sys, devtrace\n"
        "while True:\n"
        "    with devtrace.connect(central=sys.argv[1]) as con:\n"
        "        print(*con.execute('SELECT count(*), count(DISTINCT id) FROM store.command_events').fetchone(), flush=True)\n"
    )
    logs = [tmp_path / f"reader-{i}.log" for i in range(2)]
    readers = [subprocess.Popen([sys.executable, "-c", reader, central], stdout=log.open("w"), stderr=subprocess.STDOUT)
               for log in logs]
    try:
        wait_for_reads(logs, 1)
        for start in range(1000, 6000, 1000):
            push(central, frame[start:start + 1000], "alice")
            wait_for_reads(logs, start // 1000 + 1)  # each reader reads between the push and its flush
            flush.flush(central)
    finally:
        for process in readers:
            process.kill()
            process.wait()
    for log in logs:
        reads = [tuple(map(int, line.split())) for line in log.read_text().splitlines() if line.strip()]
        assert len(reads) >= 5, log.read_text()[-2000:]
        counts = [count for count, _ in reads]
        assert all(count == distinct for count, distinct in reads), reads
        assert all(count % 1000 == 0 and 1000 <= count <= 6000 for count in counts), counts
        assert counts == sorted(counts), counts
    assert same(lake_totals(central), ingestion_totals(central))


def test_a_quote_in_the_central_database_s_folder_and_in_a_machine_name(tmp_path):
    """Paths and names reach DuckDB inside SQL text (ATTACH and LOAD take no parameters):
    every one is quoted, so an apostrophe neither breaks a statement nor changes it."""
    folder = tmp_path / "o'brien's lake"
    folder.mkdir()
    url = str(folder / "central.db")
    open_central(url).close()
    frame = generate(400, seed=8)
    push(url, frame[:300], "o'neil", labels_every=10)
    push(url, frame[300:], "bob")
    assert flush.flush(url, data_path=str(folder / "data'files")).events == 400
    assert same(lake_totals(url), ingestion_totals(url))
    with analytics(url) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 400
    assert admin.erase(url, "o'neil", actor="cli:test") == (300, 30)
    with analytics(url) as con:
        assert con.execute("SELECT machine, count(*) FROM store.command_events GROUP BY ALL").fetchall() == [("bob", 100)]

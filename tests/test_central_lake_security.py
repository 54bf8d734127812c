"""What a careless or hostile query, a look at `ps`, and two overlapping jobs could do to the
central store and its lake: write into the lake, read the password or the organisation's key,
or skip a score forever."""

import glob
import hashlib
import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from devtrace.analytics import connect, run
from devtrace.central.db import INGEST_LOCK, open_central
from devtrace.central.lake import flush as lake_flush
from devtrace.central.lake.scoring import score_central
from devtrace.errors import DevtraceError
from devtrace.ml.synthetic import generate
from tests.central_support import run_cli
from tests.test_central_lake import push
from tests.test_central_lake_service import approved  # noqa: F401 (a fixture)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def flushed(request, tmp_path):
    """A central database whose lake holds 200 events, and the lake's data folder."""
    url = str(tmp_path / "central.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    open_central(url).close()
    push(url, generate(200, seed=3), "alice")
    data = str(tmp_path / "lake-data")
    lake_flush.flush(url, data_path=data)
    return url, data


def _files(folder: str) -> dict[str, str]:
    found = {}
    for file in glob.glob(os.path.join(folder, "**", "*"), recursive=True):
        if os.path.isfile(file):
            with open(file, "rb") as f:
                found[file] = hashlib.sha256(f.read()).hexdigest()
    return found


def test_no_statement_writes_into_the_lake(flushed, tmp_path):
    url, data = flushed
    before = _files(data)
    parquet = next(iter(before))
    statements = [
        f"COPY (SELECT 1 AS x) TO '{parquet}' (FORMAT parquet)",
        f"COPY (SELECT 1 AS x) TO '{data}/more.parquet'",
        f"EXPORT DATABASE '{data}/exported'",
        f"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{parquet}' (FORMAT parquet)",
        f"PREPARE p AS COPY (SELECT 1 AS x) TO '{parquet}'",
        "COPY FROM DATABASE memory TO store",
    ]
    with connect(central=url) as con:
        for statement in statements:
            with pytest.raises(DevtraceError, match="is refused"):
                run(con, statement)
        assert run(con, "SELECT count(*) FROM events").fetchone()[0] == 200
    done = run_cli("sql", "--central", url, statements[0], cwd=tmp_path)
    assert done.returncode == 1 and "COPY is refused" in done.stderr and "Traceback" not in done.stderr
    assert _files(data) == before
    with connect(central=url) as con:
        assert run(con, "SELECT count(*) FROM events").fetchone()[0] == 200


def test_the_central_tables_behind_the_views_are_not_readable(flushed, tmp_path):
    url, _ = flushed
    with connect(central=url) as con:
        for statement in ("SELECT * FROM central_db.hash_keys", 'SELECT * FROM "CENTRAL_DB".tokens',
                          "USE central_db; SELECT * FROM tokens"):
            with pytest.raises(DevtraceError, match="is refused"):
                run(con, statement)
        assert run(con, "SELECT count(*) FROM store.command_events").fetchone()[0] == 200


@pytest.mark.postgres
def test_the_password_shows_nowhere(postgres_url, tmp_path):
    """The test cluster trusts loopback, so a URL with a password still connects: what is
    checked is where the password shows."""
    secret = "S3cretPw!x"
    url = postgres_url.replace("postgres@", f"postgres:{secret.replace('!', '%21')}@")
    open_central(url).close()
    push(url, generate(20, seed=4), "alice")
    lake_flush.flush(url, data_path=str(tmp_path / "lake-data"))
    with connect(central=url) as con:
        for statement in ("SELECT * FROM duckdb_databases()", "PRAGMA database_list", "SELECT * FROM duckdb_secrets()",
                          "SELECT * FROM duckdb_settings()"):
            shown = repr(run(con, statement).fetchall())
            assert secret not in shown and "S3cretPw" not in shown, statement
        assert run(con, "SELECT count(*) FROM events").fetchone()[0] == 20
    # a lake job's command line (what `ps` shows to every user) carries no URL
    from devtrace.central.lake import job as lake_job

    seen: list[str] = []

    def watch():
        while not done.is_set():
            for status in glob.glob("/proc/[0-9]*/cmdline"):
                try:
                    with open(status, "rb") as f:
                        line = f.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if line.startswith(sys.executable) and "devtrace.central.lake.job" in line:  # ours, not another checkout's
                    seen.append(line)
            time.sleep(0.01)

    done = threading.Event()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = lake_job.run("flush", url, "")
    finally:
        done.set()
        watcher.join()
    assert result["events"] == 0 and seen
    assert not [line for line in seen if "S3cretPw" in line or "postgresql://" in line]


@pytest.fixture
def central_url(postgres_url):
    """`approved` publishes into this module's central database: a PostgreSQL one."""
    return postgres_url


@pytest.mark.postgres
def test_central_scores_wait_for_the_ingest_lock_and_score_each_event_once(postgres_url, approved):  # noqa: F811
    push(postgres_url, generate(300, seed=5), "alice")
    with psycopg.connect(postgres_url, autocommit=True) as holder:  # an ingest batch committing meanwhile
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [INGEST_LOCK])
        results: list[int] = []
        runs = [threading.Thread(target=lambda: results.append(score_central(postgres_url))) for _ in range(2)]
        for t in runs:
            t.start()
        with psycopg.connect(postgres_url, autocommit=True) as other:
            waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted"
            deadline = time.monotonic() + 120
            while other.execute(waiting, [INGEST_LOCK]).fetchone()[0] < 2:  # both have scored and wait to write
                assert all(t.is_alive() for t in runs) and time.monotonic() < deadline, "a scoring run did not reach the lock"
                time.sleep(0.05)
            assert other.execute("SELECT count(*) FROM event_scores").fetchone()[0] == 0
        holder.execute("COMMIT")
        for t in runs:
            t.join(120)
    assert sorted(results)[-1] == 300 and sum(results) == 300
    with psycopg.connect(postgres_url) as other:
        assert other.execute("SELECT count(*), count(DISTINCT event_id) FROM event_scores").fetchone() == (300, 300)


def test_lake_job_children_take_the_database_from_their_environment(tmp_path):
    url = str(tmp_path / "central.db")
    open_central(url).close()
    done = subprocess.run([sys.executable, "-m", "devtrace.central.lake.job", "flush", ""], capture_output=True,
                          text=True, env={**os.environ, "DEVTRACE_CENTRAL_DB": url})
    assert done.returncode == 0, done.stdout + done.stderr


def test_central_files_are_owner_only(tmp_path):
    url = str(tmp_path / "central.db")
    old = os.umask(0o022)  # what a shell usually has
    try:
        done = run_cli("server", "token", "create", "--name", "m", "--db", url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        push(url, generate(50, seed=6), "alice")
        done = run_cli("server", "flush", "--db", url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    finally:
        os.umask(old)
    found = [path for path in glob.glob(str(tmp_path / "central.db*")) + glob.glob(str(tmp_path / "central.db-lake/**"), recursive=True)]
    assert any(path.endswith(".parquet") for path in found) and any(path.endswith("-lake.sqlite") for path in found)
    for path in found:
        mode = os.stat(path).st_mode & 0o777
        assert mode == (0o700 if os.path.isdir(path) else 0o600), (path, oct(mode))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_small_flush_reaches_parquet(backend, tmp_path, request):
    """DuckLake would inline a flush of up to 10 rows into its catalog (never into Parquet)."""
    import duckdb

    url = str(tmp_path / "central.db") if backend == "sqlite" else request.getfixturevalue("postgres_url")
    open_central(url).close()
    data = str(tmp_path / "lake-data")
    push(url, generate(3, seed=8), "alice")
    lake_flush.flush(url, data_path=data)
    push(url, generate(12, seed=9)[10:], "bob")  # a second small flush, on a later attach
    lake_flush.flush(url)
    files = glob.glob(f"{data}/**/*.parquet", recursive=True)
    assert files and duckdb.sql(f"SELECT count(*) FROM read_parquet({files!r}, union_by_name = true) "
                                "WHERE id IS NOT NULL").fetchone()[0] == 5

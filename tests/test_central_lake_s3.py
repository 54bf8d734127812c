"""The DuckLake tier with its Parquet files on object storage (`--lake-data s3://bucket/prefix`),
against a real S3-compatible server on loopback (moto's standalone server, one per module) and
a real PostgreSQL catalog: flush exactly once, reads with the tail, a one-day window, maintain,
retention, erasure, the read lock, and credentials that never leave the connection."""

import datetime as dt
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest

from devtrace import analytics
from devtrace.analytics import connect, views
from devtrace.analytics.filters import filter_events
from devtrace.central.db import open_central
from devtrace.central.lake import admin, flush, ingest_tables, writer
from devtrace.errors import DevtraceError
from devtrace.ml.synthetic import generate
from tests.s3_support import SECRET_KEY, SESSION_TOKEN, bucket_of
from tests.support import devtrace, devtrace_env
from tests.test_central_lake import FLUSH_SCRIPT, ingestion_totals, lake_totals, push, same

pytestmark = pytest.mark.postgres


@pytest.fixture
def central(postgres_url):
    open_central(postgres_url).close()
    return postgres_url


def lake_files(url: str) -> set[str]:
    """Every data file the lake's catalog knows, as s3:// URLs."""
    with writer.connect(url, pinned=True) as con:
        return {r[0] for r in con.execute(
            "SELECT data_file FROM ducklake_list_files('lake', 'command_events') UNION ALL "
            "SELECT data_file FROM ducklake_list_files('lake', 'labels') UNION ALL "
            "SELECT data_file FROM ducklake_list_files('lake', 'flushes')").fetchall()}


def stored(server, data_path: str) -> dict[str, bytes]:
    """Every object of the lake's bucket, by s3:// URL."""
    bucket = bucket_of(data_path)
    return {f"s3://{bucket}/{key}": body for key, body in server.objects(bucket).items()}


def rows_of(objects: dict[str, bytes], machine: str) -> int:
    """Rows of `machine` in every Parquet object (events and labels both have the column)."""
    found = 0
    for body in objects.values():
        con = duckdb.connect()
        con.execute("CREATE TABLE t AS SELECT * FROM read_parquet(?)", [_spooled(body)])
        columns = [c[0] for c in con.execute("DESCRIBE t").fetchall()]
        if "machine" in columns:
            found += con.execute("SELECT count(*) FROM t WHERE machine = ?", [machine]).fetchone()[0]
        con.close()
    return found


def read_if_there(file: Path) -> bytes:
    """A file's bytes; none for one that a running PostgreSQL removed since it was listed."""
    try:
        return file.read_bytes()
    except FileNotFoundError:
        return b""


def _spooled(body: bytes) -> str:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".parquet", delete=False) as f:
        f.write(body)
    return f.name


def test_flush_reads_with_the_tail_and_every_view_answers_as_over_postgres(central, s3_lake, s3_server):
    frame = generate(4000, seed=3)
    push(central, frame[:3000], "alice", labels_every=9)
    first = flush.flush(central, data_path=s3_lake)
    assert (first.events, first.labels) == (3000, 334)
    assert same(lake_totals(central), ingestion_totals(central))
    assert flush.flush(central).events == 0  # exactly once
    objects = stored(s3_server, s3_lake)
    assert set(objects) == lake_files(central)
    assert any("/lake/main/command_events/day=2026-" in url for url in objects)  # one prefix per UTC day
    with connect(central=central) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 3000
        push(central, frame[3000:], "bob", labels_every=4)  # a moment ago, not flushed
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone() == (4000, 4000)
    with connect(central=central) as over_lake, connect(central=central, lake=False) as over_postgres:
        for view in [v.name for v in views()]:
            query = f"SELECT * FROM {view} ORDER BY ALL"
            expected = over_postgres.execute(query).fetchall()
            assert expected, view
            assert over_lake.execute(query).fetchall() == expected, view


def test_a_flush_killed_mid_write_leaves_each_event_once_and_maintain_removes_its_orphans(central, s3_lake, s3_server):
    """kill -9 at several points of a flush writing to the bucket; meanwhile `ps` never shows
    a credential (they reach the flush through its environment only)."""
    push(central, generate(20000, seed=2), "alice", labels_every=7)
    total = ingestion_totals(central)
    listings, stop = [], threading.Event()

    def watch_ps():
        while not stop.is_set():
            listings.append(subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True).stdout)
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_ps)
    watcher.start()
    try:
        for delay in (1.0, 2.5, 4.0):
            child = subprocess.Popen([sys.executable, "-c", FLUSH_SCRIPT, central, s3_lake, "3000"], env=devtrace_env())
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
            child.wait()
    finally:
        stop.set()
        watcher.join()
    assert any(s3_lake in listing for listing in listings)  # ps did see the flushes running
    assert not any(SECRET_KEY in listing or SESSION_TOKEN in listing for listing in listings)
    flush.flush(central, data_path=s3_lake)
    assert same(lake_totals(central), total)
    files = admin.maintain(central, keep_hours=0)  # merges files, removes what killed flushes left
    assert files["files_after"] <= files["files_before"]
    assert same(lake_totals(central), total)
    assert set(stored(s3_server, s3_lake)) == lake_files(central)  # no orphan object left


def test_a_one_day_window_reads_that_day_s_objects_only(central, s3_lake):
    push(central, generate(3000, seed=5), "alice")
    flush.flush(central, data_path=s3_lake)
    with writer.connect(central, pinned=True) as con:
        by_day = {}
        for path, in con.execute("SELECT data_file FROM ducklake_list_files('lake', 'command_events')").fetchall():
            by_day.setdefault(path.split("/day=")[1].split("/")[0], set()).add(path)
    assert len(by_day) > 3
    with connect(central=central) as con:  # each measure on a fresh connection: DuckDB caches what it read
        day = con.execute("SELECT min(CAST(executed_at AS DATE)) + 3 FROM events").fetchone()[0]
        expected = con.execute("SELECT * FROM daily_activity WHERE day = ? ORDER BY ALL", [day]).fetchall()
    with connect(central=central) as con:
        assert objects_read(con, "SELECT * FROM daily_activity ORDER BY ALL") == set().union(*by_day.values())
    with connect(central=central) as con:
        filter_events(con, days=(day, day))
        assert objects_read(con, "SELECT * FROM daily_activity ORDER BY ALL") == by_day[day.isoformat()]
        assert con.execute("SELECT * FROM daily_activity ORDER BY ALL").fetchall() == expected


def objects_read(con: duckdb.DuckDBPyConnection, query: str) -> set[str]:
    """The command_events objects DuckDB fetched (HTTP GETs, from its own log) to answer `query`."""
    con.execute("CALL truncate_duckdb_logs()")
    con.execute("CALL enable_logging('HTTP')")
    con.execute(query).fetchall()
    con.execute("CALL disable_logging()")
    urls = con.execute("SELECT DISTINCT request.url FROM duckdb_logs_parsed('HTTP') "
                       "WHERE request.type = 'GET' AND request.url LIKE '%/command_events/%.parquet'").fetchall()
    return {"s3://" + unquote(url.split("://", 1)[1].split("/", 1)[1]) for url, in urls}  # path style: host/bucket/key


def test_erase_and_retention_leave_nothing_in_any_object(central, s3_lake, s3_server):
    frame = generate(3000, seed=6)
    push(central, frame[:1500], "alice", labels_every=5)
    push(central, frame[1500:2500], "bob", labels_every=5)
    flush.flush(central, data_path=s3_lake)
    push(central, frame[2500:], "bob", labels_every=5)  # bob's tail, not flushed yet
    assert rows_of(stored(s3_server, s3_lake), "bob") > 0

    removed = admin.erase(central, "bob", actor="admin-token:carol")
    assert (removed.events, removed.labels) == (1500, 300)
    objects = stored(s3_server, s3_lake)
    assert rows_of(objects, "bob") == 0  # no object in the bucket keeps bob's rows
    assert rows_of(objects, "alice") > 0
    assert set(objects) == lake_files(central)
    action, target, actor, _, events, labels = ingest_tables.audit_rows(central)[-1]
    assert (action, target, actor, events, labels) == ("erase", "bob", "admin-token:carol", 1500, 300)
    with connect(central=central) as con:
        assert con.execute("SELECT count(*) FROM store.command_events WHERE machine = 'bob'").fetchone()[0] == 0
        first, last = con.execute("SELECT min(CAST(executed_at AS DATE)), max(CAST(executed_at AS DATE)) FROM events").fetchone()
    cutoff = first + (last - first) / 2
    admin.retention(central, 10, actor="cli:test", today=cutoff + dt.timedelta(days=10))
    admin.maintain(central, keep_hours=0)
    days = {url.split("/day=")[1].split("/")[0] for url in stored(s3_server, s3_lake) if "/command_events/day=" in url}
    assert days and min(days) >= cutoff.isoformat()
    assert ingest_tables.audit_rows(central)[-1][:3] == ("retention", cutoff.isoformat(), "cli:test")
    assert same(lake_totals(central), ingestion_totals(central))


def test_the_read_connection_reaches_the_lake_s_prefix_only_and_only_to_read(central, s3_lake, s3_server, tmp_path):
    push(central, generate(500, seed=9), "alice")
    flush.flush(central, data_path=s3_lake)
    bucket = bucket_of(s3_lake)
    client = s3_server.client()
    client.create_bucket(Bucket=bucket + "-other")
    duckdb.sql("SELECT 42 AS answer").write_parquet(str(tmp_path / "x.parquet"))
    one = (tmp_path / "x.parquet").read_bytes()
    for target_bucket, key in ((bucket, "lake2/x.parquet"), (bucket, "other/x.parquet"), (bucket + "-other", "lake/x.parquet")):
        client.put_object(Bucket=target_bucket, Key=key, Body=one)
    before = stored(s3_server, s3_lake)
    outside = [f"s3://{bucket}/lake2/x.parquet", f"s3://{bucket}/other/x.parquet", f"s3://{bucket}-other/lake/x.parquet",
               f"{s3_server.endpoint}/{bucket}/other/x.parquet"]  # and the server itself, over plain HTTP
    hostile = [f"SELECT * FROM read_parquet('{url}')" for url in outside] + [
        f"COPY (SELECT 1 AS a) TO '{s3_lake}/main/command_events/evil.parquet'",
        f"COPY (SELECT 1 AS a) TO 's3://{bucket}/other/evil.parquet'",
        f"EXPORT DATABASE '{s3_lake}/export'",
        f"CREATE SECRET mine (TYPE s3, KEY_ID 'k', SECRET 's', SCOPE 's3://{bucket}-other/')",
        "DROP SECRET devtrace_lake",
        "CALL enable_logging('HTTP')",
        "SELECT * FROM duckdb_logs",
        "SELECT * FROM duckdb_secrets(redact := false)",
        f"SELECT * FROM glob('s3://{bucket}/*')",  # listing the bucket
        f"SELECT * FROM read_parquet('{s3_lake}/main/command_events/**/*.parquet')",  # or the lake's prefix
        # `..` stays in the URL DuckDB sends, and moto (as other S3-compatible servers) resolves it:
        f"SELECT * FROM read_blob('{s3_lake}/../other/x.parquet')",
        f"SELECT * FROM read_blob('{s3_lake}/../../{bucket}-other/lake/x.parquet')",
        f"SELECT * FROM read_blob('{s3_lake}/.' || './other/x.parquet')",
    ]
    with connect(central=central) as con:
        for text in hostile:
            with pytest.raises(DevtraceError) as caught:
                analytics.run(con, text)
            assert "\n" not in str(caught.value) and SECRET_KEY not in str(caught.value), text
        # What the lock itself refuses, on the raw connection the Python API hands out:
        for url in outside:
            with pytest.raises(duckdb.PermissionException):
                con.execute(f"SELECT * FROM read_parquet('{url}')")
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"COPY (SELECT 1 AS a) TO 's3://{bucket}/other/evil.parquet'")
        # the pinned snapshot's own objects are readable, and the secret shows no secret
        files = [f for f in lake_files(central) if "/command_events/" in f]
        assert analytics.run(con, f"SELECT count(*) FROM read_parquet({files!r})").fetchone()[0] == 500
        secrets = str(analytics.run(con, "SELECT * FROM duckdb_secrets()").fetchall())
        assert SECRET_KEY not in secrets and SESSION_TOKEN not in secrets and s3_lake + "/" in secrets
    for text in (hostile[0], hostile[len(outside)]):  # read elsewhere, COPY into the lake: `devtrace sql --central`
        done = devtrace("sql", text, "--central", central, cwd=tmp_path, text=True)
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert stored(s3_server, s3_lake) == before  # nothing written anywhere in the bucket


def test_credentials_appear_in_no_file_object_catalog_table_output_or_error(central, s3_lake, s3_server,
                                                                             postgres_cluster, tmp_path):
    frame = generate(2000, seed=11)
    push(central, frame[:1500], "alice", labels_every=10)
    push(central, frame[1500:], "bob", labels_every=10)
    outputs = []
    for args in (("server", "flush", "--db", central, "--lake-data", s3_lake),
                 ("server", "maintain", "--db", central, "--keep-hours", "0"),
                 ("sql", "SELECT name, secret_string FROM duckdb_secrets()", "--central", central, "--format", "csv"),
                 ("server", "erase", "--machine", "bob", "--db", central)):
        done = devtrace(*args, cwd=tmp_path, text=True)
        assert done.returncode == 0, (args, done.stderr)
        outputs.append(done.stdout + done.stderr)
    # Errors on the way to object storage: a bucket that does not exist, a bad URL style.
    other = tmp_path / "other.db"
    open_central(str(other)).close()
    push(str(other), generate(100, seed=12), "bob")
    missing = devtrace("server", "flush", "--db", str(other), "--lake-data", "s3://no-such-bucket/lake",
                       cwd=tmp_path, text=True)
    outputs.append(missing.stdout + missing.stderr)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1, missing.stderr
    styled = devtrace("sql", "SELECT 1", "--central", central, cwd=tmp_path, text=True,
                      env=devtrace_env(DEVTRACE_S3_URL_STYLE="sideways"))
    outputs.append(styled.stdout + styled.stderr)
    assert styled.returncode == 1 and "DEVTRACE_S3_URL_STYLE" in styled.stderr and "Traceback" not in styled.stderr
    assert "redacted" in outputs[2]

    database = central.rsplit("/", 1)[1]
    dump = postgres_cluster.run("pg_dump", "-h", postgres_cluster.sockets, "-p", str(postgres_cluster.port),
                                "-U", "postgres", database)
    assert dump.returncode == 0 and "ducklake_metadata" in dump.stdout and s3_lake in dump.stdout
    # every file of the test's folder, and of PostgreSQL's cluster (its tables, WAL and logs)
    files = [p for root in (tmp_path, Path(postgres_cluster.root)) for p in root.rglob("*") if p.is_file()]
    objects = stored(s3_server, s3_lake)
    assert objects and files
    for secret in (SECRET_KEY, SESSION_TOKEN):
        assert secret not in dump.stdout
        assert not any(secret in text for text in outputs)
        assert not [file for file in files if secret.encode() in read_if_there(file)]  # one file at a time
        assert not [url for url, body in objects.items() if secret.encode() in body]


def test_the_server_s_timed_flush_and_admin_erase_work_on_the_bucket_and_show_no_credential(central, s3_lake, s3_server,
                                                                                             server_factory, tmp_path):
    """The server runs each lake job in a child process: the credentials reach it through the
    environment, never its command line; the server's own output never holds them either."""
    from tests import central_support

    server = server_factory(central, "--flush-every", "1", "--lake-data", s3_lake, cwd=tmp_path)
    push(central, generate(800, seed=13), "alice", labels_every=5)
    push(central, generate(400, seed=14), "bob")
    listings, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        listings.append(subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True).stdout)
        try:
            if lake_totals(central)[0] == 1200:
                break
        except (DevtraceError, duckdb.Error):  # no lake, no tables in it yet, or a flush committing
            pass
        time.sleep(0.2)
    assert same(lake_totals(central), ingestion_totals(central))
    admin_token = central_support.make_token(central, "carol", "admin")
    status, answer, _ = central_support.call(server.address, "POST", "/v1/admin/erase", token=admin_token,
                                             body={"machine": "alice"})
    assert (status, answer) == (200, {"events": 800, "labels": 160})
    objects = stored(s3_server, s3_lake)
    assert rows_of(objects, "alice") == 0 and rows_of(objects, "bob") == 400
    server.stop()
    output = server.process.stderr.read()
    assert any("devtrace.central.lake.job" in listing for listing in listings)  # a flush job was seen running
    for secret in (SECRET_KEY, SESSION_TOKEN):
        assert secret not in output
        assert not any(secret in listing for listing in listings)


@pytest.mark.parametrize("scheme", ["gs", "r2"])
def test_a_lake_on_gcs_or_r2_urls_flushes_reads_and_stays_locked(scheme, central, s3_lake, s3_server, tmp_path,
                                                                  monkeypatch):
    """`gs://` (GCS with HMAC keys) and `r2://` (Cloudflare R2) take DuckDB's gcs and r2
    secrets, with the same keys; here DEVTRACE_S3_ENDPOINT points them at the loopback server
    (GCS's and R2's own endpoints cannot be reached offline)."""
    bucket = bucket_of(s3_lake)
    lake = f"{scheme}://{bucket}/lake"
    env = devtrace_env(DEVTRACE_S3_ENDPOINT=s3_server.endpoint)
    env.pop("AWS_ENDPOINT_URL")  # which a gs:// or r2:// lake does not take
    monkeypatch.setenv("DEVTRACE_S3_ENDPOINT", s3_server.endpoint)  # for this process's checks
    push(central, generate(1200, seed=31), "alice", labels_every=6)
    flushed = devtrace("server", "flush", "--db", central, "--lake-data", lake, cwd=tmp_path, text=True, env=env)
    assert flushed.returncode == 0, flushed.stderr
    keys = set(s3_server.objects(bucket))
    assert any(k.startswith("lake/main/command_events/day=") for k in keys)
    assert {f"{scheme}://{bucket}/{k}" for k in keys} == lake_files(central)
    answer = devtrace("sql", "SELECT count(*), count(DISTINCT id) FROM events", "--central", central, "--format", "csv",
                      cwd=tmp_path, text=True, env=env)
    assert answer.returncode == 0 and answer.stdout.splitlines()[1:] == ["1200,1200"], answer.stderr
    s3_server.client().put_object(Bucket=bucket, Key="other/x.txt", Body=b"x")
    outside = devtrace("sql", f"SELECT * FROM read_text('{scheme}://{bucket}/other/x.txt')", "--central", central,
                       cwd=tmp_path, text=True, env=env)
    assert outside.returncode == 1 and outside.stderr.count("\n") == 1, outside.stderr
    maintained = devtrace("server", "maintain", "--db", central, "--keep-hours", "0", cwd=tmp_path, text=True, env=env)
    assert maintained.returncode == 0, maintained.stderr
    for done in (flushed, answer, outside, maintained):
        assert SECRET_KEY not in done.stdout + done.stderr

"""The two credential sets of a lake on object storage, as the deployment page gives them: the
writers' policy (flush, maintain, erase) and the readers' (GetObject under the prefix only),
held by two IAM users of moto's S3 server with its IAM enforcement on, on a PostgreSQL catalog.
The policies are read from docs/teams/deployment.md, so the page shows what is tested."""

import json
import os
import re
from pathlib import Path

import pytest

from devtrace.central.db import open_central
from devtrace.central.lake import writer
from devtrace.ml.synthetic import generate
from tests.s3_support import bucket_of
from tests.support import devtrace, devtrace_env
from tests.test_central_lake import ingestion_totals, lake_totals, push, same
from tests.test_central_lake_s3 import read_if_there

pytestmark = pytest.mark.postgres

DEPLOYMENT = Path(__file__).resolve().parents[1] / "docs" / "teams" / "deployment.md"


def documented_policies(bucket: str) -> tuple[dict, dict]:
    """(the writers' policy, the readers' policy) from the deployment page, for `bucket`."""
    blocks = re.findall(r"```json\n(.*?)```", DEPLOYMENT.read_text(encoding="utf-8"), re.S)
    policies = [json.loads(block.replace("acme-devtrace", bucket)) for block in blocks]
    writers, readers = policies[:2]
    assert "s3:PutObject" in writers["Statement"][0]["Action"] and readers["Statement"][0]["Action"] == "s3:GetObject"
    return writers, readers


@pytest.fixture
def central(postgres_url):
    open_central(postgres_url).close()
    return postgres_url


@pytest.fixture
def credentials(s3_server, s3_lake, monkeypatch):
    """{"writer": env, "reader": env}: the environment of a process holding each set; this
    process holds the writers' (it checks the lake as a flush would)."""
    bucket = bucket_of(s3_lake)
    writers, readers = documented_policies(bucket)
    sets = {}
    for name, policy in (("writer", writers), ("reader", readers)):
        key_id, secret = s3_server.iam_user(f"{bucket}-{name}", policy)
        sets[name] = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
    monkeypatch.delenv("AWS_SESSION_TOKEN")  # an IAM user's key has none
    for variable, value in sets["writer"].items():
        monkeypatch.setenv(variable, value)
    envs = {}
    for name, keys in sets.items():
        envs[name] = devtrace_env(**keys)
        envs[name]["secrets"] = keys["AWS_SECRET_ACCESS_KEY"]
    return envs


def run(env: dict, *args: str, cwd: Path):
    env = {k: v for k, v in env.items() if k != "secrets"}
    return devtrace(*args, cwd=cwd, env=env, text=True)


def test_writers_flush_and_maintain_and_readers_query_each_with_their_own_policy(central, s3_lake, s3_server,
                                                                                 credentials, tmp_path):
    push(central, generate(3000, seed=21), "alice", labels_every=6)
    bucket = bucket_of(s3_lake)
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="elsewhere/notes.txt", Body=b"not the lake's")
    with s3_server.iam_enforced():
        for args in (("server", "flush", "--db", central, "--lake-data", s3_lake),
                     ("server", "maintain", "--db", central, "--keep-hours", "0"),
                     ("server", "erase", "--machine", "bob", "--db", central)):
            done = run(credentials["writer"], *args, cwd=tmp_path)
            assert done.returncode == 0, (args, done.stderr)
        answer = run(credentials["reader"], "sql", "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM events",
                     "--central", central, "--format", "csv", cwd=tmp_path)
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.splitlines()[1:] == ["3000,3000"]
        view = run(credentials["reader"], "sql", "SELECT sum(commands) FROM daily_activity", "--central", central,
                   "--format", "csv", cwd=tmp_path)
        assert view.returncode == 0 and view.stdout.splitlines()[1:] == ["3000"], view.stderr
        # The store enforces the policies: the readers' key writes nothing, lists nothing; neither
        # key reads outside the prefix.
        import boto3
        from botocore.exceptions import ClientError

        def client_of(env):
            return boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                                aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["secrets"])

        reader, writer_client = client_of(credentials["reader"]), client_of(credentials["writer"])
        for attempt in (lambda: reader.put_object(Bucket=bucket, Key="lake/x.parquet", Body=b"x"),
                        lambda: reader.list_objects_v2(Bucket=bucket, Prefix="lake/"),
                        lambda: reader.get_object(Bucket=bucket, Key="elsewhere/notes.txt"),
                        lambda: writer_client.get_object(Bucket=bucket, Key="elsewhere/notes.txt"),
                        lambda: writer_client.put_object(Bucket=bucket, Key="elsewhere/x", Body=b"x")):
            with pytest.raises(ClientError, match="AccessDenied|403"):
                attempt()
    for env in credentials.values():
        assert not any(env["secrets"] in (done.stdout + done.stderr) for done in (answer, view))


def test_read_only_credentials_cannot_flush_and_nothing_is_lost_or_doubled(central, s3_lake, s3_server,
                                                                          credentials, tmp_path):
    frame = generate(3000, seed=22)
    push(central, frame[:2000], "alice", labels_every=5)
    with s3_server.iam_enforced():
        first = run(credentials["writer"], "server", "flush", "--db", central, "--lake-data", s3_lake, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        push(central, frame[2000:], "bob", labels_every=5)
        before, ingested = lake_totals(central), ingestion_totals(central)
        files_before = catalog_files(central)
    objects_before = s3_server.objects(bucket_of(s3_lake))
    with s3_server.iam_enforced():
        for args in (("server", "flush", "--db", central),
                     ("server", "maintain", "--db", central, "--keep-hours", "0"),
                     ("server", "erase", "--machine", "alice", "--db", central),
                     ("server", "retention", "--days", "1", "--db", central)):
            refused = run(credentials["reader"], *args, cwd=tmp_path)
            assert refused.returncode == 1, (args, refused.stdout, refused.stderr)
            assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr, refused.stderr
            assert "writ" in refused.stderr and "credentials" in refused.stderr, refused.stderr
            for env in credentials.values():
                assert env["secrets"] not in refused.stderr and env["AWS_ACCESS_KEY_ID"] not in refused.stderr
            assert same(lake_totals(central), before) and catalog_files(central) == files_before, args
            assert same(ingestion_totals(central), ingested), args  # an erase refused changes nothing either
    assert s3_server.objects(bucket_of(s3_lake)) == objects_before  # not one object written or deleted
    with s3_server.iam_enforced():
        done = run(credentials["writer"], "server", "flush", "--db", central, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert same(lake_totals(central), ingestion_totals(central))  # bob's 1,000 once, alice's not twice


def catalog_files(url: str) -> set[str]:
    with writer.connect(url, pinned=True) as con:
        return {r[0] for r in con.execute(
            "SELECT data_file FROM ducklake_list_files('lake', 'command_events') UNION ALL "
            "SELECT data_file FROM ducklake_list_files('lake', 'labels')").fetchall()}


def test_each_process_picks_its_set_by_aws_profile_from_the_shared_files(central, s3_lake, s3_server, credentials,
                                                                         postgres_cluster, tmp_path):
    """No key in the environment: ~/.aws/credentials holds both sets, ~/.aws/config the region
    and the endpoint, and AWS_PROFILE chooses; DuckDB's credential chain reads the keys, which
    then appear nowhere else: no output or error, no file of the test, the store or PostgreSQL."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("".join(
        f"[lake-{name}]\naws_access_key_id = {env['AWS_ACCESS_KEY_ID']}\naws_secret_access_key = {env['secrets']}\n\n"
        for name, env in credentials.items()))
    (home / ".aws" / "config").write_text("".join(
        f"[profile lake-{name}]\nregion = us-east-1\nendpoint_url = {s3_server.endpoint}\n\n" for name in credentials))
    profiles = {}
    for name, env in credentials.items():
        profiles[name] = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        profiles[name].update(HOME=str(home), AWS_PROFILE=f"lake-{name}")
    push(central, generate(1500, seed=23), "alice", labels_every=5)
    outputs = []
    with s3_server.iam_enforced():
        done = run(profiles["writer"], "server", "flush", "--db", central, "--lake-data", s3_lake, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        answer = run(profiles["reader"], "sql", "SELECT count(*) FROM events", "--central", central, "--format", "csv",
                     cwd=tmp_path)
        assert answer.returncode == 0 and answer.stdout.splitlines()[1:] == ["1500"], answer.stderr
        push(central, generate(500, seed=24), "bob")
        refused = run(profiles["reader"], "server", "flush", "--db", central, cwd=tmp_path)
        assert refused.returncode == 1 and "writers' credentials" in refused.stderr, refused.stderr
        missing = run({**profiles["reader"], "AWS_PROFILE": "lake-nobody"}, "sql", "SELECT 1", "--central", central,
                      cwd=tmp_path)
        assert missing.returncode == 1 and "lake-nobody" in missing.stderr and missing.stderr.count("\n") == 1
        outputs += [done, answer, refused, missing]
        assert same(lake_totals(central)[:2], (1500, 1500))
    database = central.rsplit("/", 1)[1]
    dump = postgres_cluster.run("pg_dump", "-h", postgres_cluster.sockets, "-p", str(postgres_cluster.port),
                                "-U", "postgres", database)
    assert dump.returncode == 0 and s3_lake in dump.stdout
    roots = (tmp_path, Path(os.environ["DEVTRACE_PATH"]).parent, Path(postgres_cluster.root))
    files = [p for root in roots for p in root.rglob("*") if p.is_file() and p != home / ".aws" / "credentials"]
    for env in credentials.values():
        assert env["secrets"] not in dump.stdout
        assert not any(env["secrets"] in output.stdout + output.stderr for output in outputs)
        assert not [file for file in files if env["secrets"].encode() in read_if_there(file)]

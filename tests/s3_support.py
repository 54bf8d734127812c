"""A real S3-compatible server on loopback for the lake-on-object-storage tests: moto's
standalone server (`python -m moto.server`), one per test module, and a fresh bucket per test.

`s3_server` (module-scoped) starts it on a free port of 127.0.0.1 and stops it after the
module. `s3_lake` (per test) creates a bucket, sets the standard AWS variables (endpoint,
region, keys and a session token, whose values the tests look for wherever they must not be)
and returns the lake's data path, `s3://<bucket>/lake`.
"""

import itertools
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

KEY_ID = "AKIADEVTRACETEST0001"
SECRET_KEY = "devtrace-s3-secret-" + secrets.token_hex(12)
SESSION_TOKEN = "devtrace-s3-session-" + secrets.token_hex(12)
_buckets = itertools.count(1)


class S3Server:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process = process
        self.endpoint = f"http://127.0.0.1:{port}"

    def client(self):
        """A boto3 client (moto's dependency), for what the tests check from outside DevTrace."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET_KEY)

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix` in `bucket`: key -> bytes."""
        client = self.client()
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_s3_server() -> S3Server:
    """moto's S3 server on a free port of 127.0.0.1, answering (for the tests and the benchmark)."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = S3Server(process, port)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(server.endpoint + "/moto-api/", timeout=2).close()
            return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_s3_server(server)
                raise RuntimeError("moto's S3 server did not start (pip install 'moto[server]')") from None
            time.sleep(0.2)


def stop_s3_server(server: S3Server) -> None:
    server.process.kill()
    server.process.wait()


@pytest.fixture(scope="module")
def s3_server():
    try:
        server = start_s3_server()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        stop_s3_server(server)


@pytest.fixture
def s3_lake(s3_server, monkeypatch) -> str:
    """A fresh bucket, the environment a DevTrace process reads its credentials from, and the
    lake's data path in that bucket."""
    bucket = f"devtrace-{os.getpid()}-{next(_buckets)}"
    s3_server.client().create_bucket(Bucket=bucket)
    for name, value in (("AWS_ACCESS_KEY_ID", KEY_ID), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
                        ("AWS_SESSION_TOKEN", SESSION_TOKEN), ("AWS_ENDPOINT_URL", s3_server.endpoint),
                        ("AWS_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return f"s3://{bucket}/lake"


def bucket_of(data_path: str) -> str:
    return data_path.split("/")[2]

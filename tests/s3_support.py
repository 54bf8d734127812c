"""A real S3-compatible server on loopback for the lake-on-object-storage tests: moto's
standalone server (`python -m moto.server`), one per test module, and a fresh bucket per test.

`s3_server` (module-scoped) starts it on a free port of 127.0.0.1 and stops it after the
module. `s3_lake` (per test) creates a bucket, sets the standard AWS variables (endpoint,
region, keys and a session token, whose values the tests look for wherever they must not be)
and returns the lake's data path, `s3://<bucket>/lake`.
"""

import contextlib
import itertools
import json
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

    def iam_user(self, name: str, policy: dict) -> tuple[str, str]:
        """An IAM user with `policy` (an AWS policy document, taken as written plus the names
        moto checks, see MOTO_OPERATIONS) and an access key: (key id, secret)."""
        import boto3

        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET_KEY)
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="devtrace-lake", PolicyDocument=json.dumps(as_moto_checks(policy)))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    @contextlib.contextmanager
    def iam_enforced(self):
        """Within: every request must be signed by an IAM user's key and allowed by its policy
        (moto's IAM enforcement, off by default; `/moto-api/reset-auth` switches it)."""
        self._reset_auth(b"0")
        try:
            yield
        finally:
            self._reset_auth(b"inf")

    def _reset_auth(self, count: bytes) -> None:
        request = urllib.request.Request(self.endpoint + "/moto-api/reset-auth", data=count, method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=10).close()

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix` in `bucket`: key -> bytes."""
        client = self.client()
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return found


MOTO_OPERATIONS = {
    "s3:ListBucket": ("s3:ListObjectsV2", "s3:ListObjects", "s3:HeadBucket"),
    "s3:GetObject": ("s3:HeadObject",),
    "s3:PutObject": ("s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload"),
    "s3:DeleteObject": ("s3:DeleteObjects",),
}
"""moto 5.2.6 checks some S3 requests under their API operation's name where AWS checks the IAM
action (AWS authorises ListObjectsV2 and HeadBucket with s3:ListBucket, HeadObject with
s3:GetObject, the multipart upload's requests with s3:PutObject, a multi-object delete with
s3:DeleteObject on each key), so a correct AWS policy is refused. as_moto_checks adds those
names next to the actions that cover them, on the same resources, except that moto checks a
multi-object delete against the bucket, not each key."""


def as_moto_checks(policy: dict) -> dict:
    statements = []
    for statement in policy["Statement"]:
        statements.append(statement)
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        for action in actions:
            for operation in MOTO_OPERATIONS.get(action, ()):
                resource = statement["Resource"]
                if operation == "s3:DeleteObjects":
                    resource = [r.split("/", 1)[0] for r in ([resource] if isinstance(resource, str) else resource)]
                copy = {key: value for key, value in statement.items() if key != "Sid"}
                statements.append({**copy, "Action": operation, "Resource": resource})
    return {**policy, "Statement": statements}


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

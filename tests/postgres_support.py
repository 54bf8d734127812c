"""A throwaway PostgreSQL 15 cluster for the test session.

`postgres_cluster` (session-scoped) runs initdb in a temporary folder, starts the server on
127.0.0.1 with a free port and a private unix socket folder, and stops and removes it when
the session ends. PostgreSQL refuses to run as root, so when the tests run as root the
cluster belongs to the `postgres` user and every binary runs through `runuser -u postgres`.
Nothing is skipped: without PostgreSQL the fixture fails with one sentence.

`postgres_url` (per test) is a fresh, empty database in that cluster.
"""

import itertools
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""The params of a fixture whose tests run over each central database: the PostgreSQL ones
are marked `postgres`."""

BIN_DIR = os.environ.get("DEVTRACE_PG_BIN", "/usr/lib/postgresql/15/bin")
USER = "postgres"
_database_numbers = itertools.count(1)


class Cluster:
    def __init__(self, root: str, port: int):
        self.root = root
        self.data = os.path.join(root, "data")
        self.sockets = os.path.join(root, "sockets")
        self.port = port

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def run(self, binary: str, *args: str) -> subprocess.CompletedProcess:
        command = [os.path.join(BIN_DIR, binary), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", USER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check(result: subprocess.CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed: {(result.stderr or result.stdout).strip()}")


def start_cluster(durable: bool = False) -> Cluster:
    """A running cluster. Tests run it without fsync (faster, and nothing survives the
    session anyway); `durable` keeps PostgreSQL's defaults, for benchmarks."""
    if not os.path.isfile(os.path.join(BIN_DIR, "initdb")):
        pytest.fail(f"PostgreSQL 15 is needed for the central tests and {BIN_DIR}/initdb is missing "
                    "(apt-get install postgresql, or set DEVTRACE_PG_BIN)", pytrace=False)
    root = tempfile.mkdtemp(prefix="devtrace-pg-")
    cluster = Cluster(root, _free_port())
    os.makedirs(cluster.sockets)
    if os.geteuid() == 0:
        shutil.chown(root, USER)
        shutil.chown(cluster.sockets, USER)
        os.chmod(root, 0o700)
    _check(cluster.run("initdb", "-D", cluster.data, "-U", USER, "--auth=trust", "-E", "UTF8",
                       "--no-sync", "--no-instructions"), "initdb")
    options = (f"-c listen_addresses=127.0.0.1 -c port={cluster.port} -c unix_socket_directories={cluster.sockets}"
               " -c max_connections=100")
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    _check(cluster.run("pg_ctl", "-D", cluster.data, "-o", options, "-l", os.path.join(root, "server.log"),
                       "-w", "-t", "60", "start"), "pg_ctl start")
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    cluster.run("pg_ctl", "-D", cluster.data, "-m", "immediate", "-w", "stop")
    shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster():
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def new_database(cluster: Cluster) -> str:
    """The URL of a new empty database in `cluster`."""
    name = f"devtrace_test_{os.getpid()}_{next(_database_numbers)}"
    _check(cluster.run("createdb", "-h", cluster.sockets, "-p", str(cluster.port), "-U", USER, name), "createdb")
    return cluster.url(name)


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    """A new empty database in the session's cluster."""
    return new_database(postgres_cluster)

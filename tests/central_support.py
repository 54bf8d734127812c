"""Central tests: a real `devtrace server` process on a loopback port, over SQLite or PostgreSQL.

`central_url` is parametrized: every test that uses it runs once against a SQLite file and
once against a fresh PostgreSQL database (tests/postgres_support.py). `Proxy` sits between
a client and the server on loopback and misbehaves on purpose, as a network does: it drops
a connection after the server answered, holds an answer back, or answers 429/503 itself.
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devtrace.central import tokens
from devtrace.central.db import open_central
from tests.postgres_support import DATABASES
from tests.support import devtrace_env, devtrace_here


@pytest.fixture(params=DATABASES)
def central_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "central.db")
    return request.getfixturevalue("postgres_url")


def make_token(url: str, name: str, scope: str = "ingest", expires_in: float | None = None) -> str:
    db = open_central(url)
    try:
        return tokens.create(db, name, scope, expires_in)
    finally:
        db.close()


class Server:
    """`python -m devtrace server --db URL` on a free loopback port."""

    def __init__(self, url: str | None, *extra: str, port: int = 0, cwd: Path | None = None,
                 typed: list[str] | None = None):
        """`typed`: the words after `devtrace server` as a user types them, instead of --db URL,
        --port and `extra`."""
        self.db = url
        args = typed if typed is not None else ["--db", str(url), "--port", str(port), *extra]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtrace", "server", *args],
            cwd=cwd, env=devtrace_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )
        line = _read_line(self.process, "DevTrace server on ", timeout=60)
        self.address = line.split("DevTrace server on ", 1)[1].split()[0]
        self.port = int(self.address.rsplit(":", 1)[1])
        wait_healthy(self.address)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class InProcessServer:
    """What `devtrace server --db URL` serves (`create_app` over the migrated database, with
    the same uvicorn settings), in a thread of the test process, on a free loopback port: the
    same routes over the same HTTP wire, without an interpreter per test that imports FastAPI,
    uvicorn and the database drivers. `options` are the service's own: max_age_days,
    max_body_mb, body_timeout."""

    def __init__(self, url: str, **options: float):
        import uvicorn

        from devtrace.central.server import create_app
        from devtrace.cli.server import uvicorn_config

        self.db = url
        self.central = open_central(url)
        mb = options.pop("max_body_mb", 8.0)
        app = create_app(self.central, max_body=int(mb * 1024 * 1024), **options)
        listener = socket.create_server(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        self.address = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn_config(app, log_config=None))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [listener]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "the in-process server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self.central.close()


IN_PROCESS_OPTIONS = {"--max-age-days": "max_age_days", "--max-body-mb": "max_body_mb", "--body-timeout": "body_timeout"}


@pytest.fixture
def server_factory():
    """`start(url, *options)`: the service on loopback, stopped after the test. In this
    process (InProcessServer) for a test of what the routes answer; a real `devtrace server`
    process (Server) with `process=True` (a test that kills it or reads its log), a fixed
    `port` or a `cwd`, or options only the process has (--flush-every, --lake-data)."""
    started: list[Server | InProcessServer] = []

    def start(url: str, *extra: str, process: bool = False, **kwargs) -> Server | InProcessServer:
        names, values = extra[::2], extra[1::2]
        if process or kwargs or not set(names) <= set(IN_PROCESS_OPTIONS):
            server: Server | InProcessServer = Server(url, *extra, **kwargs)
        else:
            server = InProcessServer(url, **{IN_PROCESS_OPTIONS[n]: float(v) for n, v in zip(names, values, strict=True)})
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _read_line(process: subprocess.Popen, marker: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.2)
        if ready:
            line = process.stderr.readline()
            if marker in line:
                return line
            if line:
                seen.append(line)
        if process.poll() is not None:
            break
    raise AssertionError(f"the server did not start: {''.join(seen) + (process.stderr.read() or '')}")


def wait_healthy(address: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(address + "/v1/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def call(address: str, method: str, route: str, *, token: str | None = None, body=None, raw: bytes | None = None,
         headers: dict | None = None) -> tuple[int, dict | list | None, dict]:
    """One plain HTTP request: (status, parsed JSON body or None, headers)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(address + route, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, payload, got = exc.code, exc.read(), dict(exc.headers)
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = None
    return status, parsed, got


def central_count(url: str, sql: str = "SELECT count(*) FROM command_events") -> int:
    db = open_central(url)
    try:
        with db.transaction(write=False) as tx:
            return tx.execute(sql)[0][0]
    finally:
        db.close()


def sync_env(**extra: str) -> dict:
    return devtrace_env(**extra)


class Proxy:
    """A loopback TCP proxy in front of `target` (host, port), one request per connection.

    `plan` is a list of actions for the next requests, one each, then it forwards:
      "forward"     forward and relay the answer
      "drop"        forward (the server does the work), then close without answering
      "hold"        forward, then keep the answer until `release()`: the client waits
      (status, headers) answer that status itself without forwarding
    """

    def __init__(self, target_port: int, plan: list | None = None):
        self.target_port = target_port
        self.plan = list(plan or [])
        self.seen: list[str] = []
        self.holding = threading.Event()
        self._release = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.address = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._release.set()

    def close(self) -> None:
        self._release.set()
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            request = _read_request(client)
            if request is None:
                return
            action = self.plan.pop(0) if self.plan else "forward"
            self.seen.append(request.split(b"\r\n", 1)[0].decode())
            if isinstance(action, tuple):
                status, headers = action
                head = f"HTTP/1.1 {status} Busy\r\nContent-Length: 2\r\nConnection: close\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                client.sendall(head.encode() + b"\r\n{}")
                return
            with socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
                upstream.sendall(request)
                answer = _read_all(upstream)
            if action == "drop":
                return
            if action == "hold":
                self.holding.set()
                self._release.wait(120)
            try:
                client.sendall(answer)
            except OSError:
                pass


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    # Ask the server to close after answering, so reading to EOF gets the whole answer.
    head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:"))
    return head + b"\r\nConnection: close\r\n\r\n" + body


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`devtrace ARGS`, text out: `devtrace run` in a subprocess (it ends its process), every
    other command in this process (`devtrace_here`), where the server tests check what a
    command says and stores, not how a process starts."""
    if args[0] == "run":
        return subprocess.run([sys.executable, "-m", "devtrace", *args], cwd=cwd, env=env or devtrace_env(),
                              capture_output=True, text=True, timeout=300)
    return devtrace_here(*args, cwd=cwd, env=env, text=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

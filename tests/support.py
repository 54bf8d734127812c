"""Helpers for tests: real git repositories, real stores, the real `devtrace` command."""

import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=True
    )
    return done.stdout


def devtrace_env(**extra: str) -> dict:
    """The environment without the developer's DEVTRACE_* settings, except the test's own
    default store (DEVTRACE_PATH, set by conftest's isolated_environment), so a command without
    --path never writes to the home folder's store. Git snapshots get a
    minute, not the default 300 ms: on a loaded test machine git may take longer, and only
    the tests of the budget itself want to see it run out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACE_") or k == "DEVTRACE_PATH"}
    env["DEVTRACE_GIT_TIMEOUT_MS"] = "60000"
    env.update(extra)
    return env


def devtrace(*args: str, cwd: Path, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, as a user would."""
    kwargs.setdefault("capture_output", True)
    return subprocess.run(
        [sys.executable, "-m", "devtrace", *args], cwd=cwd, env=env or devtrace_env(), **kwargs
    )


def devtrace_here(*args: str, cwd: Path, env: dict | None = None, input: bytes | str | None = None,
                  text: bool = False) -> subprocess.CompletedProcess:
    """The CLI's own entry point run in this process (typer's CliRunner), for a test that
    checks what a command prints, its exit status and what it stores: the same as
    `devtrace(...)` without starting an interpreter that imports DuckDB, Polars or XGBoost.
    `env` replaces the environment as it does for a subprocess. An exception the entry point
    does not turn into a sentence is raised here, so the test fails on it. `devtrace run` and
    `devtrace hook record` end their process (os._exit): they always run as subprocesses."""
    from devtrace.__main__ import main

    assert args[:1] != ("run",) and args[:2] != ("hook", "record"), f"devtrace {' '.join(args[:2])} runs as a subprocess"
    environment = env or devtrace_env()
    overrides = {name: None for name in os.environ if name not in environment} | environment
    with contextlib.chdir(cwd), CliRunner().isolation(input=input, env=overrides) as (out, err, _):
        argv, sys.argv = sys.argv, ["devtrace", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            if isinstance(exc.code, str):  # as the interpreter does: the text to stderr, status 1
                print(exc.code, file=sys.stderr)
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        finally:
            sys.argv = argv
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue(), err.getvalue()
    if text:
        stdout, stderr = stdout.decode(), stderr.decode()
    return subprocess.CompletedProcess(["devtrace", *args], code, stdout, stderr)


LIVE_ID = re.compile(rb"recorded [0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b")
"""`devtrace run`'s summary naming a live event's id (a UUIDv7, devtrace.capture.event_ids)."""

CHECKOUT = Path(__file__).resolve().parent.parent
"""The checkout under test: the `devtrace` package every test, in or out of process, must run."""


def imported_checkout(cwd: Path, env: dict | None = None) -> Path:
    """The folder whose `devtrace` package a `python -m devtrace` subprocess of the tests imports."""
    done = subprocess.run([sys.executable, "-c", "import devtrace; print(devtrace.__file__)"],
                          cwd=cwd, env=env or devtrace_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"a subprocess cannot import devtrace: {done.stderr.strip().splitlines()[-1]}")
    return Path(done.stdout.strip()).resolve().parent.parent


def drained(store: Path, timeout: float = 60.0) -> None:
    """Wait until the store's spool is empty: every finished command is an event (`devtrace run`
    spools an event when the store is busy; the shell hooks always do)."""
    spool = store / "spool"
    deadline = time.monotonic() + timeout
    while spool.is_dir() and any(_waiting(spool / name) for name in os.listdir(spool) if name.endswith(".rec")):
        if time.monotonic() > deadline:
            raise AssertionError(f"the spool of {store} was not drained in {timeout:.0f} s")
        time.sleep(0.02)


def _waiting(record: Path) -> bool:
    """A record the drainer will take: complete, or still being written. An incomplete one
    2 s old was left by a writer that died (a killed agent hook): it is never drained."""
    try:
        return record.read_bytes().endswith(b"\x1e\n") or time.time() - record.stat().st_mtime < 2
    except FileNotFoundError:
        return False


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    """Poll until `condition()` is true; fail saying `what` did not happen within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.01)


def rows(store: Path, sql: str = "SELECT * FROM command_events ORDER BY executed_at") -> list[sqlite3.Row]:
    drained(store)
    conn = sqlite3.connect(store / "devtrace.db")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def stop_process(process: subprocess.Popen, grace: float) -> None:
    """Ask a helper process (browser, server) to end; kill it if it is still there after `grace` s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

"""Support for the notebook tests: a fixture store with a trained model, and a marimo server.

The store holds real `devtrace run` captures in a real git repository and synthetic
sessions written through the store's own insert function; the model is a real small
XGBoost model trained, registered and used for scoring through the ML package.
"""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from devtrace.store import create_store, insert_event
from tests.support import devtrace, devtrace_env, git, stop_process

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
SYNTHETIC_EVENTS = 1200


def capture_real_commands(repo: Path, store: Path) -> None:
    """A short real session: look, edit, fail a check, fix, pass."""
    env = devtrace_env(DEVTRACE_PATH=str(store), DEVTRACE_SESSION="real-session")
    commands = [
        ["git", "status", "--short"],
        ["sh", "-c", "echo four >> a.txt"],
        [sys.executable, "-c", "raise SystemExit(1)"],
        [sys.executable, "-c", "raise SystemExit(1)"],
        ["sh", "-c", "echo five >> a.txt"],
        [sys.executable, "-c", "pass"],
    ]
    for command in commands:
        devtrace("run", "--keep-noop", "--agent", "human", "--", *command, cwd=repo, env=env, check=False)


def insert_synthetic_sessions(store: Path, rows: int = SYNTHETIC_EVENTS, seed: int = 7):
    """Synthetic sessions of several agents, written through the store's insert function;
    returns the generated frame (with its productivity_label) for training."""
    from devtrace.ml.synthetic import generate

    frame = generate(rows, seed=seed)
    conn = create_store(store)
    try:
        for row in frame.drop("productivity_label").iter_rows(named=True):
            insert_event(conn, row)
    finally:
        conn.close()
    return frame


def train_active_model(store: Path, frame) -> str:
    """A small real XGBoost model on the generated labels, registered and promoted; the
    store's events are then scored with it. Returns its version."""
    from devtrace.ml.pipeline import score_pending_events, train_and_register
    from devtrace.ml.training import dataset_training_data

    metadata = train_and_register(
        dataset_training_data(frame), source="notebook test fixture", path=store, promote=True,
        n_estimators=40, max_depth=3, learning_rate=0.3,
    )
    score_pending_events(store)
    return metadata["version"]


def label_a_few(store: Path, frame, count: int = 5) -> None:
    """Human labels on some events (their true synthetic label), so novelty has references."""
    from devtrace.store.labels import label

    for row in frame.head(count).iter_rows(named=True):
        label(row["id"], round(row["productivity_label"]), by="fixture", path=store)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def marimo_env(store: Path) -> dict:
    return {**devtrace_env(DEVTRACE_PATH=str(store)), "MARIMO_SKIP_UPDATE_CHECK": "1"}


class MarimoServer:
    """A notebook served by `marimo run` on loopback; `log()` is what the server printed."""

    def __init__(self, command: list[str], env: dict, log_file: Path, port: int):
        self.url = f"http://127.0.0.1:{port}/"
        self._log_file = log_file
        with open(log_file, "wb") as log:
            self._process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"marimo did not start serving {self.url}:\n{self.log()}")
            time.sleep(0.2)

    @classmethod
    def run(cls, notebook: str, store: Path, log_file: Path) -> "MarimoServer":
        port = free_port()
        command = [sys.executable, "-m", "marimo", "run", str(NOTEBOOKS / f"{notebook}.py"),
                   "--headless", "--host", "127.0.0.1", "--port", str(port)]
        return cls(command, marimo_env(store), log_file, port)

    def log(self) -> str:
        return self._log_file.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self._process, grace=15)

    def __enter__(self) -> "MarimoServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def run_notebook(name: str, store: Path, monkeypatch, /, **defs) -> dict:
    """Import a notebook and run it in this process on `store`, with `defs` in place of the
    cells that define them; returns its definitions."""
    return run_notebook_with_outputs(name, store, monkeypatch, **defs)[1]


def run_notebook_with_outputs(name: str, store: Path, monkeypatch, /, **defs) -> tuple[list, dict]:
    """`run_notebook`, returning the cells' outputs (in cell order) beside the definitions."""
    import importlib.util

    monkeypatch.setenv("DEVTRACE_PATH", str(store))
    spec = importlib.util.spec_from_file_location(f"notebook_{name}", NOTEBOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outputs, definitions = module.app.run(defs=defs or None)
    return list(outputs), definitions


def init_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("one\ntwo\nthree\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    return root


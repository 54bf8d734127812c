"""Shared fixtures: real git repositories, store locations and ML data in tmp_path."""

import os
from pathlib import Path

import pytest

from tests import browser
from tests.central_support import central_url, server_factory  # noqa: F401  (central fixtures)
from tests.ml_support import ROWS, cli
from tests.postgres_support import postgres_cluster, postgres_url  # noqa: F401  (PostgreSQL fixtures)
from tests.s3_support import s3_lake, s3_server  # noqa: F401  (S3-compatible server fixtures)
from tests.support import CHECKOUT, git, imported_checkout


@pytest.fixture(scope="session", autouse=True)
def a_home_of_its_own(tmp_path_factory):
    """The suite runs with an empty home folder of its own: what a developer's home holds (a
    store at ~/.devtrace that their own hook writes, agent settings, shell histories) can
    neither change a test's result nor be changed by a test that forgets its own HOME."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "CODEX_HOME",
                     "CLAUDE_CONFIG_DIR", "ZDOTDIR", "HISTFILE", "GEMINI_CLI_TRUST_WORKSPACE",
                     "GEMINI_CLI_TRUSTED_FOLDERS_PATH"):
            patch.delenv(name, raising=False)
        yield home


@pytest.fixture(scope="session", autouse=True)
def subprocesses_run_this_checkout(a_home_of_its_own, tmp_path_factory):
    """The CLI tests run `python -m devtrace` from temporary folders, where it is imported from
    wherever the interpreter finds it: stop at once if that is another copy than this checkout
    (an install of another worktree, a wheel, a PYTHONPATH), which the tests would then test."""
    found = imported_checkout(tmp_path_factory.mktemp("import-check"))
    if found != CHECKOUT:
        pytest.exit(f"subprocesses import DevTrace from {found}, not from the checkout under test {CHECKOUT}: "
                    f"run the tests with the interpreter of a venv where `pip install -e {CHECKOUT}` was done",
                    returncode=1)


@pytest.fixture(scope="session", autouse=True)
def shared_chromium():
    """The browser tests' pages share one headless Chromium per kind (tests/browser.py): it
    ends with the session."""
    yield
    browser.close_shared()


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """No test sees the developer's DevTrace settings: every DEVTRACE_* variable is cleared
    and DEVTRACE_PATH points at a fresh folder, so a command that forgets --path writes there
    and never into the checkout or the home folder."""
    for name in [n for n in os.environ if n.startswith("DEVTRACE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DEVTRACE_PATH", str(tmp_path_factory.mktemp("default-store") / ".devtrace"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit of two files, `a.txt` (3 lines) and `b.txt` (1 line)."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("one\ntwo\nthree\n")
    (root / "b.txt").write_text("b\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Where a test's store lives (created by the first capture or `devtrace init`)."""
    return tmp_path / "store"


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    """3,000 generated events (seed 7) as CSV."""
    folder = tmp_path_factory.mktemp("dataset")
    cli("ml", "generate", "--out", "train.csv", "--rows", str(ROWS), "--seed", "7", cwd=folder)
    return folder / "train.csv"


@pytest.fixture(scope="session")
def model_store(tmp_path_factory, dataset) -> Path:
    """A store whose active model (v1) was trained on `dataset` with default settings.
    Shared: tests must not change its registry."""
    folder = tmp_path_factory.mktemp("model_store")
    cli("ml", "train", "--dataset", str(dataset), "--path", str(folder / "store"), cwd=folder)
    return folder / "store"

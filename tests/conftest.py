"""Shared fixtures: real git repositories and store locations in tmp_path."""

from pathlib import Path

import pytest

from tests.support import git


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

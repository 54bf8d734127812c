"""Fixtures of the agent tests: the other repositories a session's commands `cd` into."""

from pathlib import Path

from tests.support import git


def other_repo(folder: Path) -> Path:
    """A git repository with one committed file and one uncommitted change (1 file, +1 line)."""
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    (folder / "c.txt").write_text("c\n")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "initial")
    (folder / "c.txt").write_text("c\nmore\n")
    return folder

"""Git state of a working tree: what differs from HEAD, per file, for tracked files.

One `git diff --numstat HEAD` compares the working tree (staged and unstaged edits
together) with the last commit, so a file edited in both places is counted once.
Untracked files are not counted, as in DevTrace 0.2.0. When a command moves HEAD (commit,
checkout, reset), its own change is measured against the commit it started from, so a
`git commit` is not mistaken for deleting the lines it committed.

Each snapshot has a time budget (`git_timeout_ms`): a repo too large to diff in time is
not measured (None, stored as NULL) rather than holding up the command.
"""

import os
import signal
import subprocess
import time

from devtrace.settings import GIT_TIMEOUT_MS

BUDGET_S = GIT_TIMEOUT_MS / 1000  # the default; `git_timeout_ms` sets it

# A snapshot maps a path to (lines added, lines deleted) against HEAD; binary files count 0.
Snapshot = dict[str, tuple[int, int]]

_DIFF = [
    "git", "--no-optional-locks", "-c", "core.quotepath=off",
    "diff", "--numstat", "-z", "--no-renames", "--no-ext-diff", "--no-textconv",
]


def find_repo(start: str) -> str | None:
    """The top of the work tree holding `start`, found without running git."""
    current = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def head(root: str) -> str | None:
    """The commit HEAD points at, read from the repository's files without running git.

    None in a repo without commits, or where the layout is not one this reader knows (the
    caller then cannot tell whether HEAD moved, and assumes it did not).
    """
    git_dir = _git_dir(root)
    if git_dir is None:
        return None
    common = common_dir(root) or git_dir  # the same folder where git_dir is not a linked worktree's
    text = _read(os.path.join(git_dir, "HEAD"))
    if text is None or not text.startswith("ref: "):
        return text  # detached: the commit id itself
    ref = text[5:]
    for folder in (git_dir, common):
        loose = _read(os.path.join(folder, ref))
        if loose:
            return loose
    for line in (_read(os.path.join(common, "packed-refs")) or "").splitlines():
        commit, _, name = line.partition(" ")
        if name == ref:
            return commit
    return None


def common_dir(root: str) -> str | None:
    """The repository's shared git directory: config, refs and objects live there, also
    for a linked worktree (whose own git directory holds only its HEAD and index)."""
    git_dir = _git_dir(root)
    if git_dir is None:
        return None
    linked = _read(os.path.join(git_dir, "commondir"))
    return os.path.normpath(os.path.join(git_dir, linked)) if linked else git_dir


def _git_dir(root: str) -> str | None:
    dot_git = os.path.join(root, ".git")
    if os.path.isdir(dot_git):
        return dot_git
    text = _read(dot_git)  # a worktree or submodule: "gitdir: <path>"
    if text and text.startswith("gitdir: "):
        return os.path.join(root, text[8:])
    return None


def _read(file: str) -> str | None:
    try:
        with open(file, encoding="utf-8") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


class Pending:
    """A `git diff` at work, and when its time budget runs out."""

    __slots__ = ("proc", "deadline")

    def __init__(self, proc: subprocess.Popen, budget_s: float) -> None:
        self.proc = proc
        self.deadline = time.monotonic() + budget_s


def start_snapshot(root: str, commit: str | None = "HEAD", budget_s: float = BUDGET_S) -> Pending | None:
    """Start `git diff --numstat <commit>` without waiting, so the caller can work meanwhile.

    git runs in a process group of its own: past its budget it is killed with whatever it
    started, and the terminal's signals are for the command, not for git."""
    if commit is None:
        return None
    try:
        proc = subprocess.Popen([*_DIFF, commit, "--"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                process_group=0)
    except OSError:  # git is not installed, or the work tree is gone
        return None
    return Pending(proc, budget_s)


def finish_snapshot(root: str, started: Pending | None) -> Snapshot | None:
    """Per-file numstat against the commit (the empty tree for HEAD in a repo with no commit
    yet), or None when git cannot tell (git missing, a broken repo) or its budget ran out."""
    if started is None:
        return None
    proc = started.proc
    try:
        out, _ = proc.communicate(timeout=max(started.deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if proc.stdout is not None:
            proc.stdout.close()  # whatever git left running cannot hold DevTrace by its pipe
        proc.wait()
        return None
    if proc.returncode != 0:
        empty = _empty_tree(root, started.deadline)
        if empty is None:
            return None
        done = _git([*_DIFF, empty, "--"], root, started.deadline)
        if done is None or done.returncode != 0:
            return None
        out = done.stdout
    try:
        return parse_numstat(out)
    except ValueError:  # not numstat: not a git this reader knows
        return None


def _empty_tree(root: str, deadline: float) -> str | None:
    """The empty tree's id, if the failure was a repo without commits."""
    has_head = _git(["git", "rev-parse", "-q", "--verify", "HEAD"], root, deadline)
    return None if has_head is None or has_head.returncode == 0 else empty_tree(root, deadline)


def empty_tree(root: str, deadline: float | None = None) -> str | None:
    """The id of the empty tree in this repository's hash format (SHA-1 or SHA-256)."""
    tree = _git(["git", "hash-object", "-t", "tree", os.devnull], root, deadline or time.monotonic() + BUDGET_S)
    return tree.stdout.decode().strip() if tree is not None and tree.returncode == 0 else None


def _git(argv: list[str], root: str, deadline: float) -> subprocess.CompletedProcess | None:
    """Run a short git command within what is left of a budget; None if it ran out or git is missing."""
    try:
        return subprocess.run(argv, cwd=root, capture_output=True, timeout=max(deadline - time.monotonic(), 0))
    except (OSError, subprocess.TimeoutExpired):
        return None


def parse_numstat(raw: bytes) -> Snapshot:
    """Parse `git diff --numstat -z --no-renames`: records of `added\\tdeleted\\tpath\\0`."""
    files: Snapshot = {}
    for record in raw.split(b"\0"):
        if not record:
            continue
        added, deleted, path = record.split(b"\t", 2)
        files[path.decode("utf-8", "surrogateescape")] = (
            int(added) if added != b"-" else 0,
            int(deleted) if deleted != b"-" else 0,
        )
    return files


def totals(state: Snapshot) -> tuple[int, int, int]:
    """(files touched, lines added, lines deleted) of a snapshot."""
    return len(state), sum(a for a, _ in state.values()), sum(d for _, d in state.values())


def delta(before: Snapshot, after: Snapshot) -> tuple[int, int, int]:
    """The change a command made between two snapshots: (files, lines added, lines deleted).

    Per file, a rise in lines added or a fall in lines deleted against HEAD means the command
    added lines; the reverse means it deleted them. A file whose counts did not move is not
    counted (an edit that keeps both counts equal is not visible to numstat).
    """
    files = added = deleted = 0
    for path in before.keys() | after.keys():
        if before.get(path) == after.get(path):
            continue
        a0, d0 = before.get(path, (0, 0))
        a1, d1 = after.get(path, (0, 0))
        files += 1
        added += max(a1 - a0, 0) + max(d0 - d1, 0)
        deleted += max(a0 - a1, 0) + max(d1 - d0, 0)
    return files, added, deleted

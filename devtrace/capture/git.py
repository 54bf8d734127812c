"""Git state of a working tree: what differs from HEAD, per file, for tracked files.

One `git diff --numstat HEAD` compares the working tree (staged and unstaged edits
together) with the last commit, so a file edited in both places is counted once.
Untracked files are not counted, as in DevTrace 0.2.0. When a command moves HEAD (commit,
checkout, reset), its own change is measured against the commit it started from, so a
`git commit` is not mistaken for deleting the lines it committed.
"""

import os
import subprocess

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
    common = common_dir(root)
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


def start_snapshot(root: str, commit: str | None = "HEAD") -> subprocess.Popen | None:
    """Start `git diff --numstat <commit>` without waiting, so the caller can work meanwhile."""
    if commit is None:
        return None
    try:
        return subprocess.Popen([*_DIFF, commit, "--"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:  # git is not installed
        return None


def finish_snapshot(root: str, started: subprocess.Popen | None) -> Snapshot | None:
    """Per-file numstat against the commit (the empty tree for HEAD in a repo with no commit
    yet), or None when git cannot tell (git missing, a broken repo)."""
    if started is None:
        return None
    out, _ = started.communicate()
    if started.returncode != 0:
        empty = _empty_tree(root)
        if empty is None:
            return None
        done = subprocess.run([*_DIFF, empty, "--"], cwd=root, capture_output=True)
        if done.returncode != 0:
            return None
        out = done.stdout
    return parse_numstat(out)


def _empty_tree(root: str) -> str | None:
    """The empty tree's id, if the failure was a repo without commits."""
    has_head = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=root, capture_output=True)
    return None if has_head.returncode == 0 else empty_tree(root)


def empty_tree(root: str) -> str | None:
    """The id of the empty tree in this repository's hash format (SHA-1 or SHA-256)."""
    tree = subprocess.run(["git", "hash-object", "-t", "tree", os.devnull], cwd=root, capture_output=True, text=True)
    return tree.stdout.strip() if tree.returncode == 0 else None


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

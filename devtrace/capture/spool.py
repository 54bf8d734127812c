"""The spool: where the capture side leaves each finished command for the drainer.

Capture never writes SQLite. `devtrace run`, the shell hooks (with shell builtins only) and
the agent hooks (POSIX sh, hooks/agent.sh) each append one record to a spool file of their own in
`<store>/spool/` (a 0700 folder; each file 0600), and one detached drainer per store
(`devtrace.capture.drainer`) turns the records into events in batches and deletes them.

Format (version 1). One record per file, so that records are never split or interleaved
whatever runs at once: each writer creates a file under a name nobody else uses
(`<writer id>.<sequence>.rec`; the name is also the record's id), writes the record and never
touches it again. A record is bytes:

    DTSPOOL <version> <kind> <word> ...\\n
    <body>
    \\x1e\\n

The last two bytes, RS and LF, say the record is complete: a file without them is still
being written (or its writer died, or the disk filled up halfway; such a file is dropped
once it is an hour old, with a line in hooks.log). Kinds of version 1:

- `event <nothing>`: body is the JSON object of one complete event (`devtrace run`, which has
  already hashed the command and measured git itself).
- `shell SHELL FORM STATUS START_US DURATION_US SESSION PID`: a command typed at a shell.
  SHELL is bash, zsh or fish; FORM is `line` (the body holds the command line), `fc` (bash:
  the body holds `fc -ln N N` of the command's history entry: a tab, a space, the line),
  `fc-posix` (the same from bash in posix mode: a tab, the line) or
  `history` (bash: `history 1`, `%5d`, a `*` or space, a space, the line). STATUS is the exit
  status, START_US/DURATION_US are microseconds since the epoch / of the command, each `-`
  where the shell could not tell (fish has no clock: its command ended when the record was written, the
  file's mtime). SESSION is the shell's own id for itself, PID its process id (the drainer
  looks whether the shell has moved on to another command since). The body is the current
  folder, a NUL, then the command text.

- `hello SHELL SESSION PID`: a shell hook loaded (no body): `devtrace hook status` and
  `devtrace doctor` then know the shell, and can tell when its hook stops recording.

- `agent AGENT`: one hook call of a coding agent (claude-code, codex, gemini); the body is the
  payload the agent gave the hook on stdin, as it came. The file's modification time is when
  it arrived (written by agent.sh, which has no clock of its own; the agent's own timestamps
  win where the payload has them). agent.sh names it `agent.<pid>.<n>` (a name a later hook
  may use again once the record is drained); `devtrace hook record AGENT`, `agent.py<pid>.<ns>`. The drainer parses it (hooks.agent_records).
  A kind added within version 1: a drainer from before it takes only the kinds it knows and
  leaves these records in the spool.

A drainer reads every version it knows and leaves a record of a newer version in place (the
newer DevTrace that wrote it drains it). Spooled text is raw: the folder is private, and a
record lives only until it is drained (seconds).
"""

import os

from devtrace import paths

VERSION = 1
MAGIC = b"DTSPOOL"
TRAILER = b"\x1e\n"
FOLDER = paths.SPOOL_DIR
SUFFIX = ".rec"
STALE_INCOMPLETE_S = 3600.0


def folder(directory: str) -> str:
    return os.path.join(directory, FOLDER)


def make_folder(directory: str) -> str:
    """The store's spool folder, created private (0700) if missing."""
    where = folder(directory)
    try:
        os.mkdir(where, 0o700)
        os.chmod(where, 0o700)  # whatever the umask
    except FileExistsError:
        pass
    return where


def write(directory: str, name: str, kind: str, words: list[str], body: bytes) -> str:
    """Write one record as `<spool>/<name>.rec` in one `write` (0600); returns its path."""
    record = b" ".join([MAGIC, str(VERSION).encode(), kind.encode(), *(w.encode() for w in words)]) + b"\n"
    data = record + body + TRAILER
    path = os.path.join(folder(directory), name + SUFFIX)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:  # no spool folder yet (a new store, or one deleted and made again)
        make_folder(directory)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        written = os.write(fd, data)
        if written != len(data):  # a full disk: a part is no record
            raise OSError(28, "No space left on device")
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return path


class Record:
    """One parsed spool record. `name` is its id (the file name without .rec)."""

    __slots__ = ("name", "path", "version", "kind", "words", "body", "mtime")

    def __init__(self, name: str, path: str, version: int, kind: str, words: list[str], body: bytes, mtime: float):
        self.name, self.path, self.version, self.kind = name, path, version, kind
        self.words, self.body, self.mtime = words, body, mtime


class Unreadable(Exception):
    """A record that will never become readable (a newer version, or not a spool record)."""


def pending(directory: str) -> list[str]:
    """The names of the record files waiting in the spool (unsorted)."""
    try:
        return [n for n in os.listdir(folder(directory)) if n.endswith(SUFFIX)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def read(directory: str, file_name: str) -> Record | None:
    """The record, or None while it is incomplete (still being written); Unreadable if it
    is not a version-1 record or is an incomplete one an hour old."""
    path = os.path.join(folder(directory), file_name)
    with open(path, "rb") as f:
        data = f.read()
        mtime = os.fstat(f.fileno()).st_mtime
    import time

    if not data.endswith(TRAILER):
        if time.time() - mtime > STALE_INCOMPLETE_S:
            raise Unreadable("an incomplete spool record")
        return None
    head, _, body = data[:-len(TRAILER)].partition(b"\n")
    words = head.split(b" ")
    if len(words) < 3 or words[0] != MAGIC or not words[1].isdigit():
        raise Unreadable("not a spool record")
    version = int(words[1])
    if version > VERSION:
        return None  # a newer DevTrace wrote it and drains it
    return Record(file_name[:-len(SUFFIX)], path, version, words[2].decode(),
                  [w.decode("utf-8", "surrogateescape") for w in words[3:]], body, mtime)

"""Who and what ran, without storing what it was: keyed hashes, session and repo ids."""

import os

from devtrace import paths
from devtrace.capture.git import common_dir
from devtrace.capture.hmac256 import hmac_sha256_hex
from devtrace.settings import Settings


def load_key(directory: str, settings: Settings) -> bytes:
    """The organisation key if one is configured, else the store's own random key."""
    if settings.hash_key:
        return settings.hash_key.encode()
    with open(os.path.join(directory, paths.KEY_NAME), "rb") as f:
        return f.read().strip()


def keyed_hash(key: bytes, text: str) -> str:
    return hmac_sha256_hex(key, text.encode("utf-8", "surrogateescape"))


def command_hash(key: bytes, argv: list[str]) -> str:
    """HMAC-SHA256 of the exact argv (NUL-joined, so ["a b"] and ["a", "b"] differ)."""
    return keyed_hash(key, "\0".join(argv))


def session_id(key: bytes) -> str:
    """$DEVTRACE_SESSION if set; else the POSIX session of the caller (a terminal's shell,
    or the agent that spawned us), identified by host, leader pid and its start time."""
    explicit = os.environ.get("DEVTRACE_SESSION")
    if explicit:
        return explicit
    leader = os.getsid(0)
    host = os.uname().nodename
    return "ses_" + keyed_hash(key, f"{host}:{leader}:{_start_time(leader)}")[:16]


def _start_time(pid: int) -> str:
    """The process start time in clock ticks since boot (Linux), so a reused pid differs."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return ""
    return stat.rsplit(b")", 1)[-1].split()[19].decode()


def repo_id(key: bytes, root: str) -> str:
    """The origin remote's URL if there is one (the same repo on every machine), else the
    repository's shared git directory (a worktree counts as its main checkout)."""
    shared = common_dir(root)
    origin = _origin_url(shared) if shared else None
    return "repo_" + keyed_hash(key, origin or os.path.realpath(shared or root))[:16]


def _origin_url(git_dir: str) -> str | None:
    try:
        with open(os.path.join(git_dir, "config"), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    in_origin = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            in_origin = stripped.replace(" ", "") == '[remote"origin"]'
        elif in_origin and stripped.startswith("url") and "=" in stripped:
            return stripped.split("=", 1)[1].strip()
    return None


def program(argv: list[str]) -> str:
    return os.path.basename(argv[0])


def key_fingerprint(key: bytes) -> str:
    """Which key hashed an event, without revealing the key: 16 hex of an HMAC under it."""
    return hmac_sha256_hex(key, b"devtrace key fingerprint")[:16]

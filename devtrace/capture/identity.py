"""Who and what ran, without storing what it was: keyed hashes, session and repo ids."""

import os
import re

from devtrace.capture.git import common_dir
from devtrace.capture.hmac256 import hmac_sha256_hex
from devtrace.settings import Settings
from devtrace.store.errors import StoreError
from devtrace.store.key import read_key, retired_keys


def load_key(directory: str, settings: Settings) -> bytes:
    """The organisation key if one is configured, else the store's own random key (a missing
    or empty one is refused in one sentence: see devtrace.store.key)."""
    if settings.hash_key:
        return settings.hash_key.encode()
    return read_key(directory)


def held_keys(directory: str, settings: Settings) -> list[bytes]:
    """Every key this store's commands may have been hashed with that it still holds: the
    current one first, then its own hash.key (when the organisation's is in force) and the
    keys `devtrace key rotate` retired. An organisation key replaced by another login is not
    kept, and neither is a hash.key lost or deleted."""
    keys = [load_key(directory, settings)]
    try:
        keys.append(read_key(directory))
    except StoreError:
        pass
    keys.extend(retired_keys(directory))
    return list(dict.fromkeys(keys))


def keyed_hash(key: bytes, text: str) -> str:
    return hmac_sha256_hex(key, text.encode("utf-8", "surrogateescape"))


def command_hash(key: bytes, words: list[str]) -> str:
    """HMAC-SHA256 of a command's words, NUL-joined (so ["a b"] and ["a", "b"] differ).

    `devtrace run` hashes its argv; a command line from a shell or an agent is first split
    into the same words by `command_words`, so all three give one hash for one command."""
    return keyed_hash(key, "\0".join(words))


# What makes a shell split a line otherwise than at its spaces, tabs and newlines (shlex's
# quotes, escape and punctuation, and the whitespace str.split knows but shlex does not).
_SHELL_SYNTAX = r"[\"'\\();<>|&]|[^\S \t\r\n]"


def command_words(line: str) -> list[str]:
    """The words of a command line as a POSIX shell splits them: quotes and backslashes
    resolved, `|`, `&&`, `;`, `<`, `>`, `(` and `)` words of their own whatever the spacing,
    `#` kept as text. A line that does not split (an open quote) is split on whitespace."""
    if re.search(_SHELL_SYNTAX, line) is None:  # no quote, escape, operator or odd space: the words are as typed
        return line.split()
    import shlex  # not on `devtrace run`'s path, which has its argv already

    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        return line.split()


def session_id(key: bytes) -> str:
    """$DEVTRACE_SESSION if set; else the POSIX session of the caller (a terminal's shell,
    or the agent that spawned us), identified by host, leader pid and its start time."""
    explicit = os.environ.get("DEVTRACE_SESSION")
    if explicit:
        return explicit
    leader = os.getsid(0)
    host = os.uname().nodename
    return "ses_" + keyed_hash(key, f"{host}:{leader}:{_start_time(leader)}")[:16]


def shell_session_id(key: bytes, shell: str, token: str) -> str:
    """A shell hook's session: its shell's name and the token the hook made when it loaded."""
    return "ses_" + keyed_hash(key, f"{shell}:{token}")[:16]


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


# Wrappers that run the command after their options: for each, its options that take a value
# (as a separate word), and how many plain words it takes before the command (timeout's duration).
_WRAPPERS = {
    "sudo": ({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "-R", "--user", "--group", "--host",
              "--prompt", "--close-from", "--chdir", "--role", "--type", "--other-user", "--command-timeout"}, 0),
    "env": ({"-u", "-C", "-S", "--unset", "--chdir", "--split-string"}, 0),
    "nice": ({"-n", "--adjustment"}, 0),
    "nohup": (set(), 0),
    "time": ({"-f", "-o", "--format", "--output"}, 0),
    "command": (set(), 0),
    "exec": ({"-a"}, 0),
    "timeout": ({"-s", "-k", "--signal", "--kill-after"}, 1),
    "stdbuf": ({"-i", "-o", "-e"}, 0),
    "ionice": ({"-c", "-n", "-p", "-P", "-u", "--class", "--classdata"}, 0),
}
_NOT_A_PROGRAM = {"(", ")", "{", "}", "!", "|", "&&", "||", ";", "&", "<", ">"}


def program(words: list[str]) -> str | None:
    """The basename of the program a command runs: its first word that is not an environment
    assignment (`A=1`), a wrapper (`sudo`, `env`, `time`, ...) or one of a wrapper's options as
    that wrapper defines them (`sudo -u nobody true` runs `true`). None for a subshell or group,
    whose first command is not the command's program."""
    index = program_index(words)
    return None if index is None else os.path.basename(words[index]) or words[index]


def program_index(words: list[str]) -> int | None:
    index, wrapper, positional, options = 0, None, 0, False
    while index < len(words):
        word = words[index]
        if word in _NOT_A_PROGRAM:
            return None
        if wrapper is not None:
            if options and word == "--":
                options = False
                index += 1
                continue
            if options and word.startswith("-") and word != "-":
                index += 2 if word in _WRAPPERS[wrapper][0] else 1
                continue
            if wrapper == "env" and "=" in word:
                index += 1
                continue
            if positional:
                positional -= 1
                index += 1
                continue
            wrapper = None
        name, eq, _ = word.partition("=")
        if eq and name.isidentifier():
            index += 1
            continue
        if word in _WRAPPERS:
            wrapper, positional, options = word, _WRAPPERS[word][1], True
            index += 1
            continue
        return index
    return None


def runs_devtrace(words: list[str]) -> bool:
    """`devtrace run ...`, which records itself: whoever sees it run leaves the recording to it."""
    index = program_index(words)
    return index is not None and os.path.basename(words[index]) == "devtrace" and words[index + 1:index + 2] == ["run"]


# Environment variables that the coding agents set for the commands they run.
AGENT_ENVIRONMENT = {"CLAUDECODE": "claude-code", "CODEX_THREAD_ID": "codex", "CODEX_SANDBOX": "codex",
                     "GEMINI_CLI": "gemini"}


def agent_from_environment() -> str | None:
    for variable, agent in AGENT_ENVIRONMENT.items():
        if os.environ.get(variable):
            return agent
    return None


def key_fingerprint(key: bytes) -> str:
    """Which key hashed an event, without revealing the key: 16 hex of an HMAC under it."""
    return hmac_sha256_hex(key, b"devtrace key fingerprint")[:16]

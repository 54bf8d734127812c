"""Capture settings: command-line flag > environment > `<path>/config.toml` > default.

A mistake in a setting never costs an event: the setting falls back to its default and the
problem is reported. Standard library only, and no dataclasses: this is read on every
captured command.
"""

import os

from devtrace import paths

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
KNOWN_KEYS = ("command_text", "skip_noop", "keep_noop", "record_devtrace", "record_program",
              "hash_key", "git_timeout_ms", "ignore", "server", "token", "machine", "sync", "prices")
GIT_TIMEOUT_MS = 300
MAX_MILLISECONDS = 3_600_000  # an hour


class Settings:
    """command_text: "redacted" (the store keeps the command line, redacted) or "off" (no text).
    skip_noop: `devtrace run` does not record a command that left the git tree clean and
    unchanged (DevTrace 0.2.0's rule, now opt-in); keep_noop overrides it. record_devtrace:
    the hooks also record DevTrace's own commands. record_program:
    store the program's basename. hash_key: the organisation's key for command hashes (else the
    store's key). git_timeout_ms: the time budget of each git snapshot; past it the git fields
    are NULL. ignore: regular expressions; a hooked command line matching one is not recorded.
    sync_auto: the detached background process (which scores) also pushes to the server.
    (`server`, `token` and `machine` are the sync client's: capture only accepts them.)"""

    __slots__ = ("command_text", "skip_noop", "keep_noop", "record_devtrace", "record_program", "hash_key",
                 "git_timeout_ms", "ignore", "sync_auto")

    def __init__(self, keep_noop: bool = False, record_program: bool = True, hash_key: str | None = None,
                 git_timeout_ms: int = GIT_TIMEOUT_MS, ignore: tuple[str, ...] = (), sync_auto: bool = False,
                 command_text: str = "redacted", skip_noop: bool = False, record_devtrace: bool = False):
        self.command_text = command_text
        self.skip_noop = skip_noop
        self.record_devtrace = record_devtrace
        self.keep_noop = keep_noop
        self.record_program = record_program
        self.hash_key = hash_key
        self.git_timeout_ms = git_timeout_ms
        self.ignore = ignore
        self.sync_auto = sync_auto


def load(directory: str) -> tuple[Settings, list[str]]:
    """The settings in force, and a sentence for each problem found on the way."""
    problems: list[str] = []
    values = _read_config(os.path.join(directory, paths.CONFIG_NAME), problems)
    return Settings(
        command_text=_command_text(values, problems),
        skip_noop=_flag("DEVTRACE_SKIP_NOOP", values, "skip_noop", False, problems),
        record_devtrace=_flag("DEVTRACE_RECORD_DEVTRACE", values, "record_devtrace", False, problems),
        keep_noop=_flag("DEVTRACE_KEEP_NOOP", values, "keep_noop", False, problems),
        record_program=_flag("DEVTRACE_RECORD_PROGRAM", values, "record_program", True, problems),
        hash_key=os.environ.get("DEVTRACE_HASH_KEY") or _text(values, "hash_key", problems),
        git_timeout_ms=_milliseconds("DEVTRACE_GIT_TIMEOUT_MS", values, "git_timeout_ms", GIT_TIMEOUT_MS, problems),
        ignore=_patterns(values, problems),
        sync_auto=_sync(values, problems),
    ), problems


def _read_config(file: str, problems: list[str]) -> dict:
    if not os.path.isfile(file):
        return {}
    import tomllib  # only paid for by stores that have a config file

    try:
        with open(file, "rb") as f:
            values = tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{file} is not valid TOML ({exc}); using the defaults")
        return {}
    for key in values:
        if key not in KNOWN_KEYS:
            problems.append(f"{file}: unknown setting {key!r} ignored (known: {', '.join(KNOWN_KEYS)})")
    return values


def _flag(env: str, values: dict, key: str, default: bool, problems: list[str]) -> bool:
    raw = os.environ.get(env)
    if raw is not None and raw.strip():
        word = raw.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        problems.append(f"{env}={raw!r} is not a yes/no value (use 1 or 0); using {key} = {str(default).lower()}")
        return default
    value = values.get(key, default)
    if not isinstance(value, bool):
        problems.append(f"{key} in {paths.CONFIG_NAME} must be true or false; using {str(default).lower()}")
        return default
    return value


def _command_text(values: dict, problems: list[str]) -> str:
    """"redacted" unless $DEVTRACE_COMMAND_TEXT or the config says "off" (either one: the config
    may hold an organisation's requirement, which the environment cannot lift). A value other
    than "redacted" or "off" is reported and counts as "off", the side that stores nothing."""
    found = "redacted"
    for raw, where in ((os.environ.get("DEVTRACE_COMMAND_TEXT"), "DEVTRACE_COMMAND_TEXT"),
                       (values.get("command_text"), f"command_text in {paths.CONFIG_NAME}")):
        if raw is None or raw == "" or raw == "redacted":
            continue
        if raw != "off":
            problems.append(f'{where} must be "redacted" or "off"; using "off"')
        found = "off"
    return found


def _sync(values: dict, problems: list[str]) -> bool:
    value = values.get("sync", "manual")
    if value not in ("auto", "manual"):
        problems.append(f'sync in {paths.CONFIG_NAME} must be "auto" or "manual"; using "manual"')
        return False
    return value == "auto"


def _text(values: dict, key: str, problems: list[str]) -> str | None:
    value = values.get(key)
    if value is not None and not (isinstance(value, str) and value):
        problems.append(f"{key} in {paths.CONFIG_NAME} must be a non-empty string; ignored")
        return None
    return value


def _milliseconds(env: str, values: dict, key: str, default: int, problems: list[str]) -> int:
    """A whole number of milliseconds from 1 to an hour."""
    raw = os.environ.get(env)
    if raw is not None and raw.strip():
        word, where = raw.strip(), f"{env}={raw!r}"
        value = int(word) if word.isascii() and word.isdigit() else 0
    else:
        value, where = values.get(key, default), f"{key} in {paths.CONFIG_NAME}"
        if isinstance(value, bool) or not isinstance(value, int):
            value = 0
    if not 1 <= value <= MAX_MILLISECONDS:
        problems.append(f"{where} must be a whole number of milliseconds from 1 to {MAX_MILLISECONDS}; using {default}")
        return default
    return value


def _patterns(values: dict, problems: list[str]) -> tuple[str, ...]:
    """`ignore = ["^ls$", ...]`: the valid regular expressions; each invalid one is reported."""
    value = values.get("ignore", [])
    if not isinstance(value, list):
        problems.append(f"ignore in {paths.CONFIG_NAME} must be a list of regular expressions; ignored")
        return ()
    import re

    kept = []
    for pattern in value:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            problems.append(f"ignore pattern {pattern!r} in {paths.CONFIG_NAME} is not a regular expression ({exc}); skipped")
        else:
            kept.append(pattern)
    return tuple(kept)

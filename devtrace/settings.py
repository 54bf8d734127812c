"""Capture settings: command-line flag > environment > `<path>/config.toml` > default.

Standard library only, and no dataclasses: this is read on every captured command.
"""

import os

from devtrace import paths
from devtrace.errors import DevtraceError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(DevtraceError):
    """The config file or an environment variable holds a value DevTrace cannot use."""


class Settings:
    """keep_noop: record events whose git state is clean. record_program: store argv[0]'s
    basename. hash_key: the organisation's key for command hashes (else the store's key)."""

    __slots__ = ("keep_noop", "record_program", "hash_key")

    def __init__(self, keep_noop: bool = False, record_program: bool = True, hash_key: str | None = None):
        self.keep_noop = keep_noop
        self.record_program = record_program
        self.hash_key = hash_key


def load(directory: str) -> Settings:
    values = _read_config(os.path.join(directory, paths.CONFIG_NAME))
    return Settings(
        keep_noop=_flag("DEVTRACE_KEEP_NOOP", values, "keep_noop", False),
        record_program=_flag("DEVTRACE_RECORD_PROGRAM", values, "record_program", True),
        hash_key=os.environ.get("DEVTRACE_HASH_KEY") or _text(values, "hash_key"),
    )


def _read_config(file: str) -> dict:
    if not os.path.isfile(file):
        return {}
    import tomllib  # only paid for by stores that have a config file

    try:
        with open(file, "rb") as f:
            return tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{file} is not valid TOML ({exc})") from None


def _flag(env: str, values: dict, key: str, default: bool) -> bool:
    raw = os.environ.get(env)
    if raw is not None and raw.strip():
        word = raw.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise SettingsError(f"{env}={raw!r} is not a yes/no value (use 1 or 0)")
    value = values.get(key, default)
    if not isinstance(value, bool):
        raise SettingsError(f"{key} in {paths.CONFIG_NAME} must be true or false")
    return value


def _text(values: dict, key: str) -> str | None:
    value = values.get(key)
    if value is not None and not (isinstance(value, str) and value):
        raise SettingsError(f"{key} in {paths.CONFIG_NAME} must be a non-empty string")
    return value

"""The store's config.toml as the sync client reads and writes it (mode 0600: it holds a token).

Only top-level `key = "text"` settings are written; other lines of the file are kept as
they are.
"""

import json
import os
import tomllib

from devtrace import paths
from devtrace.errors import DevtraceError


def read(directory: str) -> dict:
    file = os.path.join(directory, paths.CONFIG_NAME)
    if not os.path.isfile(file):
        return {}
    try:
        with open(file, "rb") as f:
            return tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DevtraceError(f"{file} is not valid TOML ({exc})") from None


def update(directory: str, values: dict[str, str]) -> None:
    """Set `values` (replacing earlier lines for the same keys), atomically, owner-only."""
    read(directory)  # refuse to rewrite a file we cannot parse
    file = os.path.join(directory, paths.CONFIG_NAME)
    kept = []
    if os.path.isfile(file):
        with open(file, encoding="utf-8") as f:
            kept = [line for line in f.read().splitlines() if line.split("=", 1)[0].strip() not in values]
    # A JSON string is a valid TOML basic string for the text written here.
    lines = kept + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    tmp = f"{file}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, file)
    except OSError as exc:
        raise DevtraceError(f"cannot write {file}: {exc.strerror}") from None

"""The store's config.toml as the sync client reads and writes it (mode 0600: it holds a token).

Writes go through tomlkit, which keeps the file as its owner wrote it (comments, order,
tables) and puts a top-level setting above the first table, where TOML reads it as
top-level. Capture reads the same file with tomllib only (devtrace.settings).
"""

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
    """Set the top-level settings `values` (replacing their earlier values), atomically, owner-only."""
    import tomlkit  # here: reading the settings (each background push does) needs only tomllib

    read(directory)  # refuse to rewrite a file we cannot parse
    file = os.path.join(directory, paths.CONFIG_NAME)
    document = tomlkit.document()
    if os.path.isfile(file):
        with open(file, encoding="utf-8") as f:
            document = tomlkit.parse(f.read())
    for key, value in values.items():
        document[key] = value
    tmp = f"{file}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(tomlkit.dumps(document))
        os.chmod(tmp, 0o600)
        os.replace(tmp, file)
    except OSError as exc:
        raise DevtraceError(f"cannot write {file}: {exc.strerror}") from None

"""Dataset export: every event of the `events` view, every column, in any output format."""

import os

from devtrace.analytics import formats
from devtrace.analytics.connection import events
from devtrace.errors import DevtraceError


def export_events(out: str | os.PathLike, fmt: str | None = None, path: str | os.PathLike | None = None,
                  with_text: bool = False) -> int:
    """Write the `events` view to `out` (format: `fmt`, else from the suffix, else csv);
    returns the number of rows written. The `command` column (the redacted command text where
    the store keeps it) is left out unless `with_text`."""
    if fmt is None:
        suffix = os.path.splitext(os.fspath(out))[1].lower().lstrip(".")
        fmt = suffix if suffix in formats.FORMATS else "csv"
    formats.check_format(fmt)
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise DevtraceError(f"cannot write {os.fspath(out)}: folder {folder} does not exist")
    frame = events(path=path)
    if not with_text:
        frame = frame.drop("command", strict=False)
    formats.write_frame(frame, out, fmt)
    return frame.height

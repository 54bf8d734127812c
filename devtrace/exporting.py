"""Dataset export: every event with every column, stable names, via Polars writers."""

from pathlib import Path

from devtrace.errors import DevtraceError
from devtrace.frames import WRITERS, write_frame

FORMATS = tuple(WRITERS)


def export_events(out: str | Path, fmt: str, path: str | None = None) -> int:
    """Write the `events` view to `out`; returns the number of rows written."""
    from devtrace import analytics

    if fmt not in FORMATS:
        raise DevtraceError(f"unknown export format {fmt!r} (choose one of {', '.join(FORMATS)})")
    out = Path(out)
    if not out.parent.is_dir():
        raise DevtraceError(f"cannot write {out}: folder {out.parent} does not exist")
    frame = analytics.events(path=path)
    write_frame(frame, out, fmt)
    return frame.height

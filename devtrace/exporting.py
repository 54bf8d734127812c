"""Dataset export: every event with every column, stable names, via Polars writers."""

from pathlib import Path

from devtrace.errors import DevtraceError

FORMATS = ("csv", "parquet", "jsonl")


def export_events(out: str | Path, fmt: str, path: str | None = None) -> int:
    """Write the `events` view to `out`; returns the number of rows written."""
    from devtrace import analytics

    if fmt not in FORMATS:
        raise DevtraceError(f"unknown export format {fmt!r} (choose one of {', '.join(FORMATS)})")
    out = Path(out)
    if out.is_dir():
        raise DevtraceError(f"cannot write {out}: it is a folder (give a file name)")
    if not out.parent.is_dir():
        raise DevtraceError(f"cannot write {out}: folder {out.parent} does not exist")
    frame = analytics.events(path=path)
    try:
        if fmt == "csv":
            frame.write_csv(out)
        elif fmt == "parquet":
            frame.write_parquet(out)
        else:
            frame.write_ndjson(out)
    except OSError as exc:
        raise DevtraceError(f"cannot write {out}: {exc.strerror or exc}") from None
    return frame.height

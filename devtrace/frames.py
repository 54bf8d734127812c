"""Writing a Polars frame to a file in one of DevTrace's formats, with one-sentence errors."""

import os

import polars as pl

from devtrace.errors import DevtraceError

WRITERS = {
    "csv": pl.DataFrame.write_csv,
    "parquet": pl.DataFrame.write_parquet,
    "jsonl": pl.DataFrame.write_ndjson,
}


def write_frame(frame: pl.DataFrame, out: str | os.PathLike, fmt: str) -> None:
    if os.path.isdir(out):
        raise DevtraceError(f"cannot write {os.fspath(out)}: it is a folder (give a file name)")
    try:
        WRITERS[fmt](frame, out)
    except OSError as exc:
        raise DevtraceError(f"cannot write {os.fspath(out)}: {exc.strerror or exc}") from None

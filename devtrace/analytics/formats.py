"""The one table of output formats: csv, json, jsonl and parquet, chosen by name or by the
file's suffix. `export`, `sql`, `ml generate/score` and the notebooks' downloads all write
through it, so a format means the same thing everywhere."""

import io
import os
from collections.abc import Callable
from typing import NamedTuple

import polars as pl

from devtrace.errors import DevtraceError


class Format(NamedTuple):
    write: Callable[[pl.DataFrame, object], object]
    read: Callable[[str], pl.DataFrame]
    binary: bool


FORMATS: dict[str, Format] = {
    "csv": Format(pl.DataFrame.write_csv, pl.read_csv, binary=False),
    "json": Format(pl.DataFrame.write_json, pl.read_json, binary=False),
    "jsonl": Format(pl.DataFrame.write_ndjson, pl.read_ndjson, binary=False),
    "parquet": Format(pl.DataFrame.write_parquet, pl.read_parquet, binary=True),
}
NAMES = tuple(FORMATS)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise DevtraceError(f"unknown format {fmt!r} (choose one of {', '.join(NAMES)})")
    return fmt


def format_of(out: str | os.PathLike, fmt: str | None = None) -> str:
    """`fmt` if given, else the format the file name's suffix names (`.ndjson` is jsonl)."""
    if fmt is not None:
        return check_format(fmt)
    suffix = os.path.splitext(os.fspath(out))[1].lower().lstrip(".")
    suffix = {"ndjson": "jsonl"}.get(suffix, suffix)
    if suffix not in FORMATS:
        raise DevtraceError(
            f"cannot tell the format of {os.fspath(out)}: name it .csv, .json, .jsonl or .parquet"
        )
    return suffix


def write_frame(frame: pl.DataFrame, out: str | os.PathLike, fmt: str) -> None:
    """Write `frame` to the file `out`, with one sentence for anything that goes wrong."""
    if os.path.isdir(out):
        raise DevtraceError(f"cannot write {os.fspath(out)}: it is a folder (give a file name)")
    try:
        FORMATS[check_format(fmt)].write(frame, out)
    except OSError as exc:
        raise DevtraceError(f"cannot write {os.fspath(out)}: {exc.strerror or exc}") from None
    except pl.exceptions.PolarsError as exc:
        raise DevtraceError(f"cannot write the result as {fmt}: {str(exc).splitlines()[0]}") from None


def frame_bytes(frame: pl.DataFrame, fmt: str) -> bytes:
    """The file `write_frame` would write, in memory (stdout, a notebook's download button)."""
    buffer = io.BytesIO()
    try:
        FORMATS[check_format(fmt)].write(frame, buffer)
    except pl.exceptions.PolarsError as exc:
        raise DevtraceError(f"cannot write the result as {fmt}: {str(exc).splitlines()[0]}") from None
    return buffer.getvalue()

"""Reading and writing datasets in any of DevTrace's formats, chosen by the file's suffix."""

import os

import polars as pl

from devtrace.analytics.formats import FORMATS, format_of, write_frame
from devtrace.errors import DevtraceError


def read_dataset(path: str | os.PathLike) -> pl.DataFrame:
    """The file as a frame. CSV columns keep the types Polars infers (text where unsure,
    timestamps as text): `devtrace.ml.features` turns the columns it needs into numbers."""
    fmt = format_of(path)
    if not os.path.isfile(path):
        raise DevtraceError(f"dataset {os.fspath(path)} does not exist")
    try:
        if fmt != "csv":
            return FORMATS[fmt].read(path)
        try:
            return pl.read_csv(path, infer_schema_length=10_000)
        except pl.exceptions.ComputeError:  # a column's type changes after the first rows
            return pl.read_csv(path, infer_schema_length=None)
    except pl.exceptions.NoDataError:
        raise DevtraceError(f"dataset {os.fspath(path)} is empty") from None
    except (pl.exceptions.PolarsError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DevtraceError(f"cannot read dataset {os.fspath(path)}: {first_line}") from None


def write_dataset(frame: pl.DataFrame, path: str | os.PathLike) -> None:
    fmt = format_of(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    except OSError as exc:
        raise DevtraceError(f"cannot write {os.fspath(path)}: {exc.strerror or exc}") from None
    write_frame(frame, path, fmt)

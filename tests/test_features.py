"""The feature function on hand-made sessions whose values were worked out by hand."""

import math

import polars as pl
import pytest

from devtrace.errors import DevtraceError
from devtrace.ml.features import FEATURES, build_features

# Session s1 runs pytest until it passes, then git, then python; s2 times out a build
# outside a git repo; the last event has no session and no program.
EVENTS = [
    # id, session, executed_at, duration_ms, exit, timed_out, hash, program, +, -, files, Δ+, Δ-, Δfiles
    ("a", "s1", 100.0, 2000, 1, 0, "h1", "pytest", 10, 0, 1, 6, 2, 1),
    ("b", "s1", 110.0, 3000, 1, 0, "h1", "pytest", 10, 0, 1, 0, 0, 0),
    ("c", "s1", 120.0, 1000, 0, 0, "h1", "pytest", 10, 0, 1, 0, 0, 0),
    ("d", "s1", 130.0, 500, 0, 0, "h2", "git", 0, 0, 0, 0, 0, 0),
    ("e", "s1", 140.0, 0, 0, 0, "h1", "python3.12", 0, 0, 0, 0, 0, 0),
    ("f", "s2", 105.0, 600_000, 124, 1, "h1", "make", None, None, None, None, None, None),
    ("g", None, 90.0, 10, 127, 0, "h3", None, 3, 1, 2, 3, 1, 2),
]
COLUMNS = [
    "id", "session_id", "executed_at", "duration_ms", "exit_code", "timed_out", "command_hash", "program",
    "lines_added", "lines_deleted", "files_touched_count", "delta_lines_added", "delta_lines_deleted", "delta_files",
]
NULL = None
EXPECTED = {
    #    exit tmo log_duration      log_churn        balance  Δfiles files  log_tree_churn   family prev  repeat streak since
    #    fail_share  since_green
    "a": (1, 0, math.log(3), math.log(9), 0.5, 1, 1, math.log(11), 1, NULL, 0, 0, NULL, NULL, NULL),
    "b": (1, 0, math.log(4), 0.0, NULL, 0, 1, math.log(11), 1, 1, 1, 1, 8.0, 1.0, NULL),
    "c": (0, 0, math.log(2), 0.0, NULL, 0, 1, math.log(11), 1, 1, 2, 2, 7.0, 1.0, NULL),
    "d": (0, 0, math.log(1.5), 0.0, NULL, 0, 0, 0.0, 5, 0, 0, 0, 9.0, 2 / 3, NULL),
    "e": (0, 0, 0.0, 0.0, NULL, 0, 0, 0.0, 6, 0, 3, 0, 9.5, 0.5, 19.0),
    "f": (4, 1, math.log(601), NULL, NULL, NULL, NULL, NULL, 2, NULL, 0, 0, NULL, NULL, NULL),
    "g": (3, 0, math.log(1.01), math.log(5), 0.5, 2, 2, math.log(5), 0, NULL, NULL, NULL, NULL, NULL, NULL),
}


def frame(order: str = "abcdefg") -> pl.DataFrame:
    by_id = {row[0]: row for row in EVENTS}
    return pl.DataFrame([by_id[i] for i in order], schema=COLUMNS, orient="row")


def assert_features(features: pl.DataFrame, order: str) -> None:
    assert features.columns == FEATURES
    for event, row in zip(order, features.iter_rows(), strict=True):
        for name, got, want in zip(FEATURES, row, EXPECTED[event], strict=True):
            assert (got is None) == (want is None), (event, name, got, want)
            if want is not None:
                assert got == pytest.approx(want), (event, name, got, want)


def test_hand_computed_values():
    assert_features(build_features(frame()), "abcdefg")


def test_rows_keep_their_order_and_values_whatever_the_input_order():
    assert_features(build_features(frame("gfedcba")), "gfedcba")
    assert_features(build_features(frame("dagcfeb")), "dagcfeb")


def test_timestamps_and_text_columns_give_the_same_features():
    """The events view has TIMESTAMP columns and a BOOLEAN timed_out; a CSV may carry numbers as text."""
    typed = frame().with_columns(
        pl.from_epoch((pl.col("executed_at") * 1e6).cast(pl.Int64), time_unit="us").alias("executed_at"),
        pl.col("timed_out").cast(pl.Boolean),
        pl.col("duration_ms").cast(pl.String),
    )
    assert typed.schema["executed_at"] == pl.Datetime
    assert_features(build_features(typed), "abcdefg")
    as_text = typed.with_columns(pl.col("executed_at").dt.to_string("%Y-%m-%dT%H:%M:%S%.f"))  # a CSV export
    assert as_text.schema["executed_at"] == pl.String
    assert_features(build_features(as_text), "abcdefg")
    with pytest.raises(DevtraceError, match="column executed_at holds a value that is not a time: 'soon'"):
        build_features(as_text.with_columns(pl.lit("soon").alias("executed_at")))


def test_exit_classes():
    codes = pl.DataFrame({"exit_code": [0, 1, 2, 3, 124, 126, 127, 130, 137], "duration_ms": [1] * 9})
    assert build_features(codes).get_column("exit_class").to_list() == [0, 1, 2, 1, 4, 3, 3, 5, 5]


def test_minimal_dataset_has_missing_context_not_zeros():
    features = build_features(pl.DataFrame({"duration_ms": [5, 7], "exit_code": [0, 1]}))
    for name in ("log_churn", "files_touched", "prev_exit_class", "repeat_count", "seconds_since_prev"):
        assert features.get_column(name).null_count() == 2, name
    assert features.get_column("program_family").to_list() == [0, 0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (pl.DataFrame({"duration_ms": [], "exit_code": []}), "the dataset has no rows"),
        (pl.DataFrame({"duration_ms": [1]}), "no exit_code column"),
        (pl.DataFrame({"duration_ms": ["12", "fast"], "exit_code": [0, 1]}), "not a number: 'fast'"),
        (pl.DataFrame({"duration_ms": [[1], [2]], "exit_code": [0, 1]}), "duration_ms must be numeric"),
    ],
)
def test_bad_input_is_one_sentence(data, message):
    with pytest.raises(DevtraceError, match=message):
        build_features(data)


def test_retry_streak_starts_again_after_a_success():
    """fail, pass, then the same command again: the pass ended the run of retries."""
    session = pl.DataFrame(
        [("x", "s1", 100.0, 1000, 1, 0, "h1", "pytest", 0, 0, 0, 0, 0, 0),
         ("y", "s1", 110.0, 1000, 0, 0, "h1", "pytest", 0, 0, 0, 0, 0, 0),
         ("z", "s1", 120.0, 1000, 0, 0, "h1", "pytest", 0, 0, 0, 0, 0, 0)],
        schema=COLUMNS, orient="row",
    )
    features = build_features(session)
    assert features["retry_streak"].to_list() == [0, 1, 0]
    assert features["repeat_count"].to_list() == [0, 1, 2]  # the command itself did repeat

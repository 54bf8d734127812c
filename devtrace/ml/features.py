"""Feature engineering: the one Polars function behind training, batch and event scoring.

Input is a frame of raw event columns, as written by `devtrace export` or `devtrace ml
generate`. Output is one row per input row, in the same order, with the columns of
`FEATURES`. Missing values (a command outside a git repo, the first command of a session)
stay null; XGBoost treats them as missing.

Churn is the command's own change (`delta_lines_*`); `files_touched` and `log_tree_churn`
describe the working tree it left behind (vs HEAD). Session context only looks back in
time, so an event's features do not change when later events arrive: scoring one new
event with its session's history gives the numbers a batch over the whole store gives.
That is what lets the model predict an outcome (sql/views/20_outcomes.sql) when the event
is captured: the loop so far (`retry_streak`), how the session has gone so far
(`session_fail_share`) and how long ago this command last passed (`seconds_since_green`).
"""

import polars as pl

from devtrace.errors import DevtraceError

FEATURES = [
    "exit_class",
    "timed_out",
    "log_duration_s",
    "log_churn",
    "churn_balance",
    "command_files",
    "files_touched",
    "log_tree_churn",
    "program_family",
    "prev_exit_class",
    "repeat_count",
    "retry_streak",
    "seconds_since_prev",
    "session_fail_share",
    "seconds_since_green",
]

# Exit status → class code. 124 is what `devtrace run --timeout` and coreutils `timeout` exit with.
EXIT_CLASSES = {0: "success", 1: "failure", 2: "usage error", 3: "not runnable", 4: "timeout", 5: "signal"}

# Program basename (lowercase, version suffix removed) → family code.
PROGRAM_FAMILIES = {
    0: ("unknown", ()),
    1: ("test", ("pytest", "jest", "vitest", "mocha", "tox", "nox", "rspec", "phpunit", "ctest")),
    2: ("build", ("make", "cmake", "ninja", "cargo", "go", "gcc", "clang", "mvn", "gradle", "bazel", "tsc", "javac", "dotnet", "docker")),
    3: ("lint", ("ruff", "eslint", "flake8", "pylint", "mypy", "black", "prettier", "isort", "clippy", "shellcheck", "pyright")),
    4: ("package", ("pip", "uv", "npm", "pnpm", "yarn", "poetry", "conda", "bundle", "gem", "apt", "brew")),
    5: ("vcs", ("git", "gh", "hg", "svn")),
    6: ("script", ("python", "node", "bash", "sh", "zsh", "ruby", "perl", "deno", "bun", "java")),
    7: ("agent", ("claude", "codex", "aider", "gemini", "cursor", "copilot", "opencode")),
    8: ("other", ()),
}
_FAMILY_OF = {program: code for code, (_, programs) in PROGRAM_FAMILIES.items() for program in programs}

REQUIRED = ("duration_ms", "exit_code")
NUMERIC = (
    "executed_at", "ended_at", "duration_ms", "exit_code", "timed_out", "files_touched_count",
    "lines_added", "lines_deleted", "delta_files", "delta_lines_added", "delta_lines_deleted",
)
TEXT = ("session_id", "command_hash", "program")
TIMES = ("executed_at", "ended_at")


def build_features(frame: pl.DataFrame) -> pl.DataFrame:
    """The model's input columns (`FEATURES`, Float64) for every row of `frame`, same order."""
    raw = normalize(frame)
    exit_code, timed_out = pl.col("exit_code"), pl.col("timed_out")
    exit_class = (
        pl.when(timed_out.fill_null(0) == 1).then(4)
        .when(exit_code.is_null()).then(None)  # the agent did not say (Codex): unknown, not a failure
        .when(exit_code == 0).then(0)
        .when(exit_code == 124).then(4)
        .when(exit_code == 2).then(2)
        .when(exit_code.is_in([126.0, 127.0])).then(3)
        .when(exit_code > 128).then(5)
        .otherwise(1)
    )
    churn = pl.col("delta_lines_added") + pl.col("delta_lines_deleted")
    tree_churn = pl.col("lines_added") + pl.col("lines_deleted")
    basename = pl.col("program").str.to_lowercase().str.replace(r"\.exe$", "").str.replace(r"[0-9.\-]+$", "")
    family = (
        pl.when(pl.col("program").is_null()).then(0)
        .otherwise(basename.replace_strict(_FAMILY_OF, default=8, return_dtype=pl.Int64))
    )
    row = pl.int_range(pl.len())
    ended = pl.coalesce(pl.col("ended_at"), pl.col("executed_at") + pl.col("duration_ms") / 1000)
    in_session = pl.col("session_id").is_not_null() & pl.col("executed_at").is_not_null()

    def in_order(expr: pl.Expr, *by: str) -> pl.Expr:
        """expr computed over each session in time order (ties: file order); null outside sessions."""
        return pl.when(in_session).then(expr.over(["session_id", *by], order_by=["executed_at", "_row"]))

    return (
        raw.with_columns(_row=row, exit_class=exit_class, _ended=ended)
        .with_columns(
            # Retries of a failed command form one run; a different command or a success ends it.
            _run=in_order(
                ((pl.col("command_hash") != pl.col("command_hash").shift(1)) | (pl.col("exit_class").shift(1) == 0))
                .fill_null(True)
                .cum_sum()
            )
        )
        .with_columns(
            timed_out=(pl.col("exit_class") == 4).cast(pl.Int64),
            log_duration_s=(pl.col("duration_ms").clip(lower_bound=0) / 1000).log1p(),
            log_churn=churn.log1p(),
            churn_balance=pl.when(churn > 0).then((pl.col("delta_lines_added") - pl.col("delta_lines_deleted")) / churn),
            command_files=pl.col("delta_files"),
            files_touched=pl.col("files_touched_count"),
            log_tree_churn=tree_churn.log1p(),
            program_family=family,
            prev_exit_class=in_order(pl.col("exit_class").shift(1)),
            repeat_count=pl.when(pl.col("command_hash").is_not_null()).then(
                in_order(pl.col("_row").cum_count() - 1, "command_hash")
            ),
            retry_streak=pl.when(pl.col("command_hash").is_not_null()).then(
                in_order(pl.col("_row").cum_count() - 1, "_run")
            ),
            seconds_since_prev=in_order(
                (pl.col("executed_at") - pl.col("_ended").shift(1)).clip(lower_bound=0)
            ),
            # The share of the session's earlier events that failed (timeouts included).
            session_fail_share=in_order(
                (pl.col("exit_class").fill_null(0) > 0).cast(pl.Float64).cum_sum().shift(1)
                / (pl.col("_row").cum_count() - 1).cast(pl.Float64).replace(0.0, None)
            ),
            # Seconds since an earlier run of this command in the session last ended green.
            seconds_since_green=pl.when(pl.col("command_hash").is_not_null()).then(
                in_order(
                    (pl.col("executed_at") - pl.when(pl.col("exit_class") == 0).then(pl.col("_ended"))
                     .shift(1).forward_fill()).clip(lower_bound=0),
                    "command_hash",
                )
            ),
        )
        .select(pl.col(FEATURES).cast(pl.Float64))
    )


def normalize(frame: pl.DataFrame) -> pl.DataFrame:
    """Raw columns with the types the features need, absent optional columns as nulls.

    Refuses, in one sentence, an empty frame, a missing required column, or a value that
    should be a number and is not.
    """
    if frame.height == 0:
        raise DevtraceError("the dataset has no rows")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DevtraceError(f"the dataset has no {', '.join(missing)} column (needed to compute features)")
    columns = []
    for name in NUMERIC:
        if name not in frame.columns:
            columns.append(pl.lit(None, dtype=pl.Float64).alias(name))
        else:
            columns.append(numeric_column(frame, name).alias(name))
    for name in TEXT:
        column = pl.col(name).cast(pl.String) if name in frame.columns else pl.lit(None, dtype=pl.String)
        columns.append(column.alias(name))
    return frame.select(columns)


def numeric_column(frame: pl.DataFrame, name: str) -> pl.Expr:
    """`name` as Float64; timestamps become unix seconds; text that is not a number is refused."""
    dtype = frame.schema[name]
    if dtype == pl.Datetime:
        return pl.col(name).dt.epoch("us") / 1_000_000
    if dtype.is_numeric() or dtype == pl.Boolean or dtype == pl.Null:
        return pl.col(name).cast(pl.Float64)
    if dtype == pl.String:
        text = frame.get_column(name).str.strip_chars().replace("", None)
        parsed = text.cast(pl.Float64, strict=False)
        bad = text.filter(parsed.is_null() & text.is_not_null())
        if bad.len() and name in TIMES:  # a CSV export writes timestamps as ISO text
            try:
                return pl.lit(text.str.to_datetime(time_unit="us").dt.epoch("us") / 1_000_000)
            except pl.exceptions.PolarsError:
                raise DevtraceError(f"column {name} holds a value that is not a time: {bad[0]!r}") from None
        if bad.len():
            raise DevtraceError(f"column {name} holds a value that is not a number: {bad[0]!r}")
        return pl.lit(parsed)
    raise DevtraceError(f"column {name} must be numeric (it is {dtype})")

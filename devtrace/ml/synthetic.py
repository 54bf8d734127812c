"""Synthetic bootstrap data: command sessions whose outcomes follow a documented process.

Everything is drawn with numpy from one seeded generator and assembled with Polars, with
no Python loop over rows. The process (the docs' "Synthetic data" section says the same):

- A session works in one repository (4% outside git) and has a hidden difficulty d in
  0-1 (Beta(2, 3)). A session is a sequence of tasks; a task is one command (a slot of the
  session's small command vocabulary, so hashes repeat) attempted until it passes or is
  given up: each attempt fails with the program family's failure rate scaled by 0.4 + 1.6 d,
  and a task with failures is given up with probability 0.05 + 0.6 d. Retries come quickly
  (retry loops); a given-up loop never goes green unless the command passes in a later task.
- Edits (agents, scripts, linters, package managers) accumulate in the working tree. A git
  command that passes commits them with probability 0.75 - 0.6 d (HEAD moves: a new
  head_hash), discards them with probability 0.1 + 0.3 d (the tree goes clean, HEAD stays),
  or leaves them.
- Builds are sometimes very long, tests and builds sometimes time out.

The label is not drawn: it is the `outcome_label` of sql/views/20_outcomes.sql over the
generated sessions, everything having been observed (`now` after the last event). So the
bootstrap model learns what the outcome view rewards (loops that resolve, changes that are
kept), not the exit code. Metrics of a model on this data measure the generator.
"""

import numpy as np
import polars as pl

from devtrace.errors import DevtraceError
from devtrace.ml.features import PROGRAM_FAMILIES

EPOCH = 1_767_225_600.0  # 2026-01-01 UTC: sessions start within the 60 days after it
AGENTS = ["claude-code", "codex", "aider", "gemini", "human"]
SLOTS = 8  # distinct commands per session
TIMEOUT_S = 600.0
WORLD_ENDS = 1e12  # `now` for the outcome labels: every window has passed

# family code → (programs, share of commands, failure rate, median seconds, chance of editing)
FAMILY_PROFILE = {
    1: (["pytest", "jest", "vitest", "tox"], 0.24, 0.35, 8.0, 0.02),
    2: (["make", "cargo", "go", "gradle", "docker"], 0.14, 0.25, 40.0, 0.05),
    3: (["ruff", "eslint", "mypy", "black", "prettier"], 0.12, 0.30, 1.5, 0.30),
    4: (["pip", "uv", "npm", "pnpm"], 0.06, 0.10, 12.0, 0.20),
    5: (["git", "gh"], 0.16, 0.05, 0.1, 0.0),
    6: (["python3", "node", "bash", "sh"], 0.12, 0.20, 2.0, 0.30),
    7: (["claude", "codex", "aider"], 0.12, 0.10, 90.0, 0.85),
    8: (["sed", "ls", "cat", "jq"], 0.04, 0.15, 0.3, 0.25),
}
_PROGRAMS = [p for code in FAMILY_PROFILE for p in FAMILY_PROFILE[code][0]]
_PROGRAM_FAMILY = np.array([code for code in FAMILY_PROFILE for _ in FAMILY_PROFILE[code][0]])
_PROGRAM_SHARE = np.array(
    [FAMILY_PROFILE[code][1] / len(FAMILY_PROFILE[code][0]) for code in FAMILY_PROFILE for _ in FAMILY_PROFILE[code][0]]
)
assert set(FAMILY_PROFILE) <= set(PROGRAM_FAMILIES)


def generate(rows: int, seed: int = 42) -> pl.DataFrame:
    """`rows` events in the shape of `devtrace export`, plus `productivity_label` (0-100)."""
    if rows < 1:
        raise DevtraceError("--rows must be at least 1")
    rng = np.random.default_rng(seed)

    # Tasks → attempts. Failed attempts are retried; a task is given up after its last try.
    tasks = rows  # more than enough: every task has at least one attempt
    n_sessions = max(1, rows // 40)
    difficulty = rng.beta(2.0, 3.0, n_sessions)
    session = np.sort(rng.choice(n_sessions, size=tasks, p=rng.dirichlet(np.full(n_sessions, 2.0))))
    slot = rng.choice(SLOTS, size=tasks, p=_slot_weights())
    session_program = rng.choice(len(_PROGRAMS), size=(n_sessions, SLOTS), p=_PROGRAM_SHARE)
    program = session_program[session, slot]
    family = _PROGRAM_FAMILY[program]
    hard = difficulty[session]
    fail_rate = np.minimum(_profile(family, 2) * (0.4 + 1.6 * hard), 0.9)
    failures = np.minimum(rng.geometric(1.0 - fail_rate) - 1, 6)
    gives_up = rng.random(tasks) < (0.05 + 0.6 * hard) * (failures > 0)
    attempts = failures + 1
    ends = np.cumsum(attempts)
    tasks = int(np.searchsorted(ends, rows) + 1)

    task = np.repeat(np.arange(tasks), attempts[:tasks])[:rows]
    attempt = np.arange(rows) - np.repeat(ends[:tasks] - attempts[:tasks], attempts[:tasks])[:rows]
    session, slot, program, family = session[task], slot[task], program[task], family[task]
    hard = difficulty[session]
    last_try = attempt == attempts[task] - 1
    failed = ~last_try | gives_up[task]

    # Exit codes of failures, then durations (long builds, timeouts at the limit).
    kind = rng.random(rows)
    timeout_rate = np.where(np.isin(family, (1, 2)), 0.10, 0.02)
    timed_out = failed & (kind < timeout_rate)
    exit_code = np.select(
        [~failed, timed_out, kind < 0.15, kind < 0.19, kind < 0.22],
        [0, 124, 2, 127, 137],
        default=1,
    )
    median_s = _profile(family, 3) * np.where(failed, 0.6, 1.0)
    long_build = (family == 2) & (rng.random(rows) < 0.08)
    duration_s = median_s * np.exp(rng.normal(0.0, 0.8, rows)) * np.where(long_build, 12.0, 1.0)
    duration_s = np.where(timed_out, TIMEOUT_S + rng.random(rows), np.minimum(duration_s, TIMEOUT_S))
    duration_ms = np.rint(duration_s * 1000).astype(np.int64)

    # Think time before each command: quick after a failure, occasionally a long break.
    gap_s = rng.exponential(25.0, rows) * np.where(attempt > 0, 0.25, 1.0)
    gap_s = np.where(rng.random(rows) < 0.03, rng.exponential(1800.0, rows), gap_s)

    # What each command changed; passing git commands commit, discard or leave the tree.
    edits = ~failed & (rng.random(rows) < _profile(family, 4)) | (family == 7) & (rng.random(rows) < 0.3)
    delta_added = np.where(edits, np.rint(np.exp(rng.normal(2.8, 1.1, rows))), 0).astype(np.int64)
    delta_deleted = np.where(edits, np.rint(delta_added * rng.beta(1.2, 2.5, rows) * 1.5), 0).astype(np.int64)
    delta_files = np.where(edits, 1 + rng.poisson(1.2, rows), 0)
    git_pass = (family == 5) & ~failed
    choice = rng.random(rows)
    commit = git_pass & (choice < 0.75 - 0.6 * hard)
    discard = git_pass & ~commit & (choice > 1.0 - (0.1 + 0.3 * hard))
    no_git = (rng.random(n_sessions) < 0.04)[session]

    sessions_hex = _hex(rng, n_sessions, 8)
    frame = pl.DataFrame(
        {
            "session": session,
            "agent_id": pl.Series(AGENTS).gather(rng.integers(0, len(AGENTS), n_sessions)[session]),
            "start": EPOCH + rng.random(n_sessions)[session] * 60 * 86400,
            "gap_s": gap_s,
            "duration_ms": duration_ms,
            "exit_code": exit_code,
            "timed_out": timed_out.astype(np.int64),
            "program": pl.Series(_PROGRAMS).gather(program),
            "commit": commit,
            "clean": commit | discard,
            "no_git": no_git,
            "delta_files": delta_files,
            "delta_lines_added": delta_added,
            "delta_lines_deleted": delta_deleted,
        }
    )
    by_session = pl.col("session")
    frame = (
        frame.with_columns(
            executed_at=pl.col("start")
            + (pl.col("gap_s") + pl.col("duration_ms").shift(1, fill_value=0) / 1000).cum_sum().over(by_session),
            segment=pl.col("clean").cast(pl.Int64).cum_sum().shift(1, fill_value=0).over(by_session),
            head=pl.col("commit").cast(pl.Int64).cum_sum().over(by_session),
        )
        .with_columns(
            lines_added=pl.col("delta_lines_added").cum_sum().over(["session", "segment"]),
            lines_deleted=pl.col("delta_lines_deleted").cum_sum().over(["session", "segment"]),
            files_touched_count=pl.col("delta_files").cum_sum().over(["session", "segment"]).clip(upper_bound=60),
        )
        .with_columns(
            # A commit or a discard leaves a clean tree.
            pl.when(pl.col("clean")).then(0).otherwise(pl.col(c)).alias(c)
            for c in ("lines_added", "lines_deleted", "files_touched_count")
        )
    )
    ids = _hex(rng, rows, 6)
    hashes = _hex(rng, n_sessions * SLOTS, 32)
    frame = (
        frame.with_columns(
            id=pl.lit("evt_") + ids,
            command_hash=hashes.gather(pl.Series(session * SLOTS + slot)),
            session_id=pl.lit("ses_") + sessions_hex.gather(pl.Series(session)),
            repo_id=pl.when(pl.col("no_git")).then(None).otherwise(
                pl.lit("repo_") + _hex(rng, n_sessions, 8).gather(pl.Series(session))
            ),
            author_kind=pl.when(pl.col("agent_id") == "human").then(pl.lit("human")).otherwise(pl.lit("agent")),
            started_at=pl.col("executed_at"),
            ended_at=pl.col("executed_at") + pl.col("duration_ms") / 1000,
            head_hash=pl.when(pl.col("no_git")).then(None).otherwise(
                pl.format("head_{}{}", pl.col("session"), pl.col("head").cast(pl.String).str.zfill(6))
            ),
            **{c: pl.when(pl.col("no_git")).then(None).otherwise(pl.col(c)) for c in (
                "files_touched_count", "lines_added", "lines_deleted",
                "delta_files", "delta_lines_added", "delta_lines_deleted",
            )},
        )
        .sort("executed_at")
        .select(
            "id", "agent_id", "executed_at", "command_hash", "duration_ms", "exit_code", "timed_out",
            "files_touched_count", "lines_added", "lines_deleted", "started_at", "ended_at",
            "session_id", "repo_id", "program", "delta_files", "delta_lines_added",
            "delta_lines_deleted", "author_kind", "head_hash",
        )
    )
    from devtrace.analytics.frame_outcomes import frame_outcomes

    label = frame_outcomes(frame, now=WORLD_ENDS).get_column("outcome_label")
    return frame.with_columns(productivity_label=label)


def _profile(family: np.ndarray, field: int) -> np.ndarray:
    table = np.zeros(max(FAMILY_PROFILE) + 1)
    for code, profile in FAMILY_PROFILE.items():
        table[code] = profile[field]
    return table[family]


def _slot_weights() -> np.ndarray:
    """A few commands of a session run far more often than the rest (Zipf-like)."""
    weights = 1.0 / np.arange(1, SLOTS + 1)
    return weights / weights.sum()


def _hex(rng: np.random.Generator, count: int, nbytes: int) -> pl.Series:
    """`count` random lowercase hex strings of `nbytes` bytes each."""
    digits = rng.integers(0, 16, size=(count, 2 * nbytes), dtype=np.uint8)
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[digits]
    return pl.Series(chars.view(f"S{2 * nbytes}").ravel()).cast(pl.String)

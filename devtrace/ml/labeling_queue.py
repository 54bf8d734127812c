"""The order in which events are worth a human's label: least sure, most unlike the labeled.

Two signals, each turned into a percentile rank in [0, 1] and averaged into `priority`:

- `uncertainty`: how far the model's second half of trees still moves the prediction,
  |f(all trees) - f(first half)|. Boosting keeps correcting where its error stays high, so
  a prediction that late trees move a lot is one the model is least settled on.
- `novelty`: distance, in standardized feature space, to the nearest event a human has
  labeled. Labels far from every existing label teach the model the most new ground.

Without a model the queue is ordered by novelty alone; without labels, novelty is the
distance to the average event, so the first labels go to the unusual ones.
"""

import warnings

import numpy as np
import polars as pl

from devtrace.ml import xgb
from devtrace.ml.features import FEATURES, build_features

POOL = 2000
"""Candidates considered: the newest unlabeled events (distances cost pool × labeled)."""


def labeling_queue(events: pl.DataFrame, booster=None, *, pool: int = POOL) -> pl.DataFrame:
    """Unlabeled events of the `events` view, most worth labeling first, with the model's
    inputs (`features`, a struct), `uncertainty` (None without a model), `novelty`, `priority`."""
    if events.height == 0:
        return events.with_columns(
            features=pl.lit(None, pl.Struct({name: pl.Float64 for name in FEATURES})),
            **{name: pl.lit(None, pl.Float64) for name in ("uncertainty", "novelty", "priority")},
        )
    features = build_features(events)  # over every event: session context needs them all
    matrix = _standardized(features.to_numpy())
    labeled = events.get_column("human_label").is_not_null().to_numpy()
    candidates = np.flatnonzero(~labeled)
    candidates = candidates[np.argsort(events.get_column("executed_at").to_numpy()[candidates], kind="stable")][-pool:]
    chosen = candidates.tolist()
    novelty = _novelty(matrix[candidates], matrix[labeled])
    priority = _rank(novelty)
    uncertainty = None
    if booster is not None:
        uncertainty = _uncertainty(booster, features[chosen])
        priority = (priority + _rank(uncertainty)) / 2
    return events[chosen].with_columns(
        features=features[chosen].select(FEATURES).to_struct(),
        uncertainty=pl.Series(uncertainty, dtype=pl.Float64) if uncertainty is not None else pl.lit(None, pl.Float64),
        novelty=pl.Series(novelty, dtype=pl.Float64),
        priority=pl.Series(priority, dtype=pl.Float64),
    ).sort("priority", descending=True, maintain_order=True)


def session_context(events: pl.DataFrame, event: dict) -> pl.DataFrame:
    """The events `event` (a row of `events`) is explained with: its whole session, whose
    earlier commands give its session features (previous exit, repeats, gap), or the event
    alone when it belongs to no session."""
    if event["session_id"] is None:
        return events.filter(pl.col("id") == event["id"])
    return events.filter(pl.col("session_id") == event["session_id"])


NEIGHBOURS = 5

LABEL_GUIDE = """\
**0**: work that led nowhere: the fifth failure of a loop that never passed, a change thrown away.
**50**: useful but costly: a failure fixed only after a long detour, a green run whose change was never committed.
**100**: work that moved things forward: the run that turned a failing test green, an edit that reached a commit.
The suggestion is the event's outcome label (what followed it); change it when you know better."""


def session_window(events: pl.DataFrame, event: dict, k: int = NEIGHBOURS) -> pl.DataFrame:
    """The `k` commands before and after `event` in its session (itself marked `this`), oldest
    first, with what a person needs to read them: when, the command (its redacted text, else
    its program and a short hash), exit, duration and change."""
    context = session_context(events, event).sort("executed_at", "id").with_row_index("_at")
    at = context.filter(pl.col("id") == event["id"])["_at"][0]
    window = context.filter((pl.col("_at") >= at - k) & (pl.col("_at") <= at + k))
    text = pl.col("command") if "command" in window.columns else pl.lit(None, dtype=pl.String)
    short = pl.concat_str(pl.col("program").fill_null("?"), pl.lit(" #"), pl.col("command_hash").str.slice(0, 10))
    return window.select(
        pl.when(pl.col("id") == event["id"]).then(pl.lit("▶")).otherwise(pl.lit("")).alias("this"),
        "executed_at", pl.coalesce(text, short).alias("command"),
        "exit_code", (pl.col("duration_ms") / 1000).round(2).alias("seconds"),
        "delta_lines_added", "delta_lines_deleted", "id",
    )


def outcome_facts(outcome: dict | None) -> dict:
    """What the `outcomes` view says of an event, as the labeling app shows it."""
    if outcome is None:
        return {"Outcome label (suggested)": "— (not observable yet)"}
    loop = (f"run {outcome['loop_position']} of {outcome['loop_runs']}, "
            + ("resolved" if outcome["loop_resolved"] else "never passed (stuck)")
            if outcome["loop_runs"] > 1 else "not in a retry loop")
    green = outcome["time_to_green_s"]
    facts = {
        "Outcome label (suggested)": "—" if outcome["outcome_label"] is None else f"{outcome['outcome_label']:g}",
        "Retry loop": loop,
    }
    if outcome["failed"]:
        facts["Went green"] = (f"after {green:.0f} s" if green is not None
                               else "never (within the window)" if outcome["never_green"] else "not yet")
    if outcome["changed"]:
        facts["Its change"] = ("committed" if outcome["kept"] else "discarded" if outcome["abandoned"]
                               else "not committed" if outcome["kept"] is False else "not settled yet")
    return facts


def _standardized(matrix: np.ndarray) -> np.ndarray:
    """Columns scaled to mean 0 and standard deviation 1; missing values at the mean (0)."""
    with warnings.catch_warnings():  # a column with no value at all (no git anywhere) is fine
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(matrix, axis=0)
        std = np.nanstd(matrix, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    std = np.where(np.isnan(std) | (std == 0), 1.0, std)
    scaled = (matrix - mean) / std
    return np.where(np.isnan(scaled), 0.0, scaled)


def _novelty(candidates: np.ndarray, labeled: np.ndarray, chunk: int = 512) -> np.ndarray:
    if len(labeled) == 0:
        return np.linalg.norm(candidates, axis=1)
    nearest = np.empty(len(candidates))
    for start in range(0, len(candidates), chunk):
        block = candidates[start:start + chunk]
        squared = (block**2).sum(1)[:, None] - 2 * block @ labeled.T + (labeled**2).sum(1)[None, :]
        nearest[start:start + chunk] = np.sqrt(np.clip(squared.min(axis=1), 0, None))
    return nearest


def _uncertainty(booster, features: pl.DataFrame) -> np.ndarray:
    xgboost = xgb.load()
    matrix = xgboost.DMatrix(features.select(FEATURES).to_numpy(), feature_names=FEATURES)
    trees = booster.num_boosted_rounds()
    full = booster.predict(matrix)
    half = booster.predict(matrix, iteration_range=(0, max(1, trees // 2)))
    return np.abs(full - half)


def _rank(values: np.ndarray) -> np.ndarray:
    """Percentile rank in [0, 1] (ties share the lowest rank); one value ranks 1."""
    if len(values) <= 1:
        return np.ones(len(values))
    order = pl.Series(values).rank(method="min").to_numpy()
    return (order - 1) / (len(values) - 1)

"""Promoting a version: refused when it is worse than the active model on the common
evaluation set (unless forced, which is recorded), then the store's events are rescored
with it in the background."""

import datetime as dt
import json
import os

from devtrace import paths
from devtrace.errors import DevtraceError
from devtrace.ml import registry
from devtrace.ml.common_evaluation import compare_versions

PROMOTIONS_FILE = "promotions.jsonl"  # in the registry's folder: one JSON line per promotion


def worse_than_active(version: str, path=None) -> str | None:
    """Why `version` should not replace the active model (it predicts the common evaluation
    set worse), or None (it is not worse, or there is not enough data to tell)."""
    active = registry.active_version(path)
    if active is None or active == version:
        return None
    reports, _ = compare_versions([{"version": version}, {"version": active}], path)
    if version not in reports or active not in reports:
        return None
    mine, theirs = reports[version]["model"]["mae"], reports[active]["model"]["mae"]
    if mine <= theirs:
        return None
    return (f"{version} is worse than the active {active} on the common evaluation set "
            f"(MAE {mine:.2f} vs {theirs:.2f} on {reports[version]['rows']:,} held-out rows)")


def promote_checked(version: str, path=None, *, force: bool = False, by: str = "cli") -> tuple[dict, int, str]:
    """Promote unless worse than the active model (`force` promotes anyway, and says so in
    the registry's promotion log); returns the active metadata, how many events are being
    rescored, and a sentence saying so."""
    reason = worse_than_active(version, path)
    if reason and not force:
        raise DevtraceError(f"{reason}: not promoted (`devtrace ml promote {version} --force` promotes it anyway)")
    metadata = registry.promote(version, path)
    _log(path, {"version": version, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "by": by,
                "forced": bool(reason and force), "reason": reason})
    return metadata, *rescore_in_background(version, path)


def rescore_in_background(version: str, path=None) -> tuple[int, str]:
    """Mark the events another model scored as pending and start the detached scorer;
    (how many, a sentence saying so)."""
    from devtrace.capture import scorer
    from devtrace.store import open_store
    from devtrace.store.scores import mark_for_rescoring

    directory = paths.store_dir(path)
    if not os.path.isfile(os.path.join(directory, paths.DB_NAME)):
        return 0, ""
    conn = open_store(directory)
    try:
        count = mark_for_rescoring(conn, version)
    finally:
        conn.close()
    if not count:
        return 0, ""
    scorer.spawn(directory)
    return count, (f"Rescoring {count:,} events with {version} in the background; until each is done it keeps its "
            "old score (`devtrace events` shows which model scored each row)")


def wait_for_rescoring(path=None, on_left=None, timeout_s: float = 3600.0) -> int:
    """Wait until the background scorer has rescored every pending event (or `timeout_s`
    passed); `on_left(n)` hears how many are left. Returns how many are left."""
    import time

    from devtrace.store import open_store
    from devtrace.store.scores import pending_count

    directory = paths.store_dir(path)
    deadline = time.monotonic() + timeout_s
    while True:
        conn = open_store(directory)
        try:
            left = pending_count(conn)
        finally:
            conn.close()
        if on_left:
            on_left(left)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.5)


def promotions(path=None) -> list[dict]:
    try:
        with open(os.path.join(registry.versions_dir(path), PROMOTIONS_FILE), encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError:
        return []


def _log(path, entry: dict) -> None:
    try:
        with open(os.path.join(registry.versions_dir(path), PROMOTIONS_FILE), "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
    except OSError as exc:
        raise DevtraceError(f"cannot record the promotion in {registry.versions_dir(path)}: {exc.strerror}") from None

"""Scoring the store's unscored events with the active model, outside the capture path.

After recording an event, capture starts `python -m devtrace.ml.autoscore` detached (see
`devtrace.capture.scorer`). That process, and `devtrace events` before it reads, score
whatever is pending. One scorer works at a time (an flock on `<path>/scoring.lock`); a
scorer that finds the lock taken leaves the work to the holder, which looks for pending
events again after releasing it, so none is missed. A reader waits for the holder at most
READER_WAIT_SECONDS, then shows the events unscored: a scorer working through a large
backlog must not hold `devtrace events` hostage.

This module imports Polars and XGBoost only once it knows there is something to score.
"""

import fcntl
import os
import sys
import time

from devtrace import paths
from devtrace.capture.scorer import has_model
from devtrace.errors import DevtraceError
from devtrace.failure_log import run_detached_job
from devtrace.store.errors import StoreReadOnly

READER_WAIT_SECONDS = 5.0


def score_pending(path=None, model_dir: str | None = None, *, wait: float = 0.0, on_rows=None) -> int:
    """Score every unscored event; returns how many were scored by this call.

    With `wait` > 0, first waits up to that many seconds for a scorer already at work (a
    reader wants fresh scores) and fails if it is still at work then; without it, leaves the
    work to that scorer. `on_rows(n)` is told the rows scored so far of each batch.
    """
    directory = paths.store_dir(path)
    if not has_model(directory, model_dir) or not os.path.isfile(os.path.join(directory, paths.DB_NAME)):
        return 0
    scored, patience = 0, wait
    while _pending(directory):
        lock = _lock(directory, patience)
        if lock is None:
            if patience:
                raise DevtraceError(f"another scorer is still at work after {patience:g} s; "
                                    "its scores appear when it finishes")
            return scored
        try:
            while _pending(directory):
                from devtrace.ml.pipeline import score_pending_events

                done = score_pending_events(directory, model_dir, on_rows)
                if not done:
                    return scored
                scored += done
        finally:
            os.close(lock)
        patience = 0.0
    return scored


def score_before_reading(path=None) -> None:
    """Bring scores up to date before the store is shown; a failure is reported, not fatal."""
    try:
        score_pending(path, wait=READER_WAIT_SECONDS)
    except StoreReadOnly:
        return  # no score can be stored there: the events show the scores they have
    except DevtraceError as exc:
        print(f"devtrace: events not scored: {exc}", file=sys.stderr)


def _pending(directory: str) -> int:
    from devtrace.store import open_store
    from devtrace.store.scores import pending_count

    conn = open_store(directory)
    try:
        return pending_count(conn)
    finally:
        conn.close()


def _lock(directory: str, patience: float) -> int | None:
    """The scoring lock's descriptor, trying for up to `patience` seconds; None if still taken."""
    fd = os.open(os.path.join(directory, paths.SCORING_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def main(argv: list[str]) -> int:
    return run_detached_job("python -m devtrace.ml.autoscore", argv, score_pending, paths.SCORER_LOG)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

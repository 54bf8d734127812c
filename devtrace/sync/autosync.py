"""The detached background process with `sync = "auto"`: score what is pending, then push.

Capture starts it (`devtrace.capture.scorer`) instead of the plain scorer; capture itself
never talks to the network. One push at a time (the store's sync lock): a process that
finds the lock taken leaves the work to the holder, which looks for pending rows again
after releasing it. A failure is written to the store's autosync.log; the rows stay pending
for the next push.
"""

import sys

from devtrace import paths
from devtrace.failure_log import run_detached_job
from devtrace.ml import autoscore
from devtrace.sync import push

BACKGROUND_ATTEMPTS = 3
"""A background push gives up sooner than `devtrace sync`: the next capture starts another."""


def run(path: str, model_dir: str | None) -> None:
    autoscore.score_pending(path, model_dir)
    while any(push.pending(path)):
        if push.push(path, wait_for_lock=False, attempts=BACKGROUND_ATTEMPTS) is None:
            return  # another push is at work and will look again when it is done


def main(argv: list[str]) -> int:
    return run_detached_job("python -m devtrace.sync.autosync", argv, run, paths.SYNC_LOG)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

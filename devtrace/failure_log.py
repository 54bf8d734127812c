"""Why a detached background job failed, left in the store since nobody sees its stderr.

One line a failure, the local time and the exception:
`2026-11-26T10:00:00 DevtraceError: the model broke` (`devtrace doctor` shows the scorer's last).
"""

import os
import time

from devtrace import paths


def record_failure(path, log_name: str, exc: BaseException) -> None:
    """Append `exc` to the log `log_name` (paths.SCORER_LOG, paths.SYNC_LOG) of the store at `path`."""
    with open(os.path.join(paths.store_dir(path), log_name), "a", encoding="utf-8") as log:
        log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {type(exc).__name__}: {exc}\n")

"""The command line of a detached background job (the scorer, autosync), and why it failed,
left in the store since nobody sees its stderr.

One line a failure, the local time and the exception:
`2026-11-26T10:00:00 DevtraceError: the model broke` (`devtrace doctor` shows the scorer's last).
"""

import os
import time
from collections.abc import Callable

from devtrace import paths


def run_detached_job(prog: str, argv: list[str], job: Callable[[str, str | None], None], log_name: str) -> int:
    """`prog --path STORE [--model-dir DIR]`: job(STORE, DIR), its failure appended to the log
    `log_name` (paths.SCORER_LOG, paths.SYNC_LOG) of that store. The exit status."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--path", required=True)
    parser.add_argument("--model-dir")
    args = parser.parse_args(argv)
    try:
        job(args.path, args.model_dir)
    except Exception as exc:  # detached: nobody sees stderr
        with open(os.path.join(paths.store_dir(args.path), log_name), "a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {type(exc).__name__}: {exc}\n")
        return 1
    return 0

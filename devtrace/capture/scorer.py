"""Starting the background scorer after an event is recorded (capture's side of scoring).

Capture stays standard-library only: it checks that a model file exists and starts
`python -m devtrace.ml.autoscore` detached, which scores whatever is pending. Nothing from
`devtrace.ml` is imported here.
"""

import os
import subprocess
import sys

from devtrace import paths

SCORER_MODULE = "devtrace.ml.autoscore"
SYNCING_SCORER_MODULE = "devtrace.sync.autosync"  # scores, then pushes (sync = "auto")


def has_model(directory: str, model_dir: str | None = None) -> bool:
    if model_dir:
        return os.path.isfile(os.path.join(model_dir, paths.MODEL_FILE))
    return os.path.isfile(paths.active_model_file(directory))


def spawn(directory: str, model_dir: str | None = None, sync_auto: bool = False) -> bool:
    """Start a detached scorer when there is a model to score with or, with `sync = "auto"`,
    events to push (capture itself never talks to the network)."""
    if not (sync_auto or has_model(directory, model_dir)):
        return False
    args = [sys.executable, "-m", SYNCING_SCORER_MODULE if sync_auto else SCORER_MODULE, "--path", directory]
    if model_dir:
        args += ["--model-dir", model_dir]
    try:
        subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:  # the event is recorded; the next `devtrace events` scores it
        return False
    return True

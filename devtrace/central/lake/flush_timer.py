"""The flush on a timer inside `devtrace server`: a daemon thread that runs the one flush job
every few minutes, in a child process (see devtrace.central.lake.job), under the same writer lock as
`devtrace server flush`. It creates no
lake unless given a data path: a server without a lake keeps serving from its tables alone."""

import sys
import threading

from devtrace.central.lake import job, writer
from devtrace.errors import DevtraceError

DEFAULT_EVERY_SECONDS = 300.0


def start(db_url: str, *, every: float = DEFAULT_EVERY_SECONDS, data_path: str | None = None) -> threading.Event:
    """Flush now and then every `every` seconds until the returned event is set."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                if data_path is None and not writer.lake_exists(db_url):
                    stop.wait(every)
                    continue
                result = job.run("flush", db_url, data_path or "")
                if result["events"] or result["labels"] or result["scores"]:
                    print(f"lake flush: {result['events']} events, {result['labels']} labels, {result['scores']} scores "
                          f"in {result['seconds']:.1f} s", file=sys.stderr)
            except DevtraceError as exc:
                print(f"lake flush failed (retried in {every:g} s): {exc}", file=sys.stderr)
            stop.wait(every)

    threading.Thread(target=loop, name="lake-flush", daemon=True).start()
    return stop

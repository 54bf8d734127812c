"""A progress line for `devtrace import` on a terminal (stderr): bytes read of the total."""

import sys
import time

INTERVAL_S = 0.2


class Progress:
    """`advance(n)` after n more bytes are read; `done()` clears the line. Silent when stderr
    is not a terminal (a pipe or a file gets the counts only)."""

    def __init__(self, total: int, what: str):
        self.total, self.what, self.read, self.shown = max(total, 1), what, 0, 0.0
        self.live = sys.stderr.isatty()

    def advance(self, n: int) -> None:
        self.read += n
        now = time.monotonic()
        if self.live and now - self.shown >= INTERVAL_S:
            self.shown = now
            share = min(self.read / self.total, 1.0)
            bar = "#" * round(share * 30)
            sys.stderr.write(f"\r{self.what} [{bar:<30}] {share:4.0%} {self.read / 2**20:.1f}/{self.total / 2**20:.1f} MiB")
            sys.stderr.flush()

    def done(self) -> None:
        if self.live and self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


class CountedLines:
    """A binary file's lines, reported to `progress` every EVERY lines (a history has
    hundreds of thousands: one call each would cost more than reading them)."""

    EVERY = 1000

    def __init__(self, f, progress: Progress):
        self.f, self.progress = f, progress

    def __iter__(self):
        read, n = 0, 0
        for line in self.f:
            read += len(line)
            n += 1
            if n == self.EVERY:
                self.progress.advance(read)
                read, n = 0, 0
            yield line
        self.progress.advance(read)

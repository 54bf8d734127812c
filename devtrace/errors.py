"""User-facing errors: the CLI prints the message as one sentence and exits non-zero."""


class DevtraceError(Exception):
    """A problem the user can act on (bad path, bad input, missing model, ...)."""

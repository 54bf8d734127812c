"""The command line a hook runs: `devtrace hook record SOURCE [--path P]`, started as cheaply
as Python allows. It runs this interpreter with -I -S and DevTrace's own folder first on
sys.path: the record path imports the standard library only, so the site machinery (about a
third of the interpreter's start-up here) is not needed, and -I keeps the current folder and
PYTHON* variables out of it."""

import json
import os
import sys


def argv(source: str, path: str | None = None) -> list[str]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    code = (f"import sys; sys.path.insert(0, {json.dumps(root)}); "
            "from devtrace.capture.hooks.record import main; main(sys.argv[1:])")
    words = [sys.executable, "-I", "-S", "-c", code, source]
    if path:
        words += ["--path", os.path.abspath(os.path.expanduser(path))]
    return words

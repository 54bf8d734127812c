"""The marimo notebooks shipped with DevTrace: find one, serve it on a store, export a report.

A notebook learns its store from `DEVTRACE_PATH`, so the store is handed over through the
environment of the marimo process, as an absolute path (marimo may change directory).
"""

import os
import shutil
import subprocess
import sys
import tempfile
from typing import NoReturn

from devtrace import paths
from devtrace.errors import DevtraceError

NOTEBOOKS = ("analysis", "labeling", "retraining")


def notebook_file(name: str) -> str:
    if name not in NOTEBOOKS:
        raise DevtraceError(f"unknown notebook {name!r} (choose one of {', '.join(NOTEBOOKS)})")
    file = os.path.join(paths.notebooks_dir(), f"{name}.py")
    if not os.path.isfile(file):
        raise DevtraceError(f"the {name} notebook is missing from this installation ({file})")
    return file


def marimo_env(path: str | os.PathLike | None, central: str | None = None) -> dict:
    """The environment for a marimo process working on the store at `path`, or on the
    central database `central` (handed over the same way: the notebook tells them apart).

    The store must exist: a notebook on a store that is not there shows nothing useful.
    """
    import importlib.util

    from devtrace.analytics.central import is_postgres
    from devtrace.store import open_store

    if importlib.util.find_spec("marimo") is None:
        raise DevtraceError("the notebooks need marimo: pip install 'devtrace[notebooks]'")
    if central:
        from devtrace import analytics

        analytics.connect(central=central).close()  # a missing or foreign database fails here
        location = central if is_postgres(central) else os.path.abspath(os.path.expanduser(central))
    else:
        open_store(path).close()
        location = os.path.abspath(paths.store_dir(path))
    return {
        **os.environ,
        "DEVTRACE_PATH": location,
        # marimo otherwise asks PyPI for a newer version on start.
        "MARIMO_SKIP_UPDATE_CHECK": "1",
    }


def serve(
    name: str,
    path: str | os.PathLike | None = None,
    edit: bool = False,
    host: str = "127.0.0.1",
    port: int | None = None,
    headless: bool = False,
    central: str | None = None,
) -> NoReturn:
    """Become `marimo run` (or `marimo edit`) on a notebook: the process is replaced, so
    Ctrl-C and signals reach marimo itself and nothing is left behind when it stops."""
    command = [sys.executable, "-m", "marimo", "edit" if edit else "run", notebook_file(name), "--host", host]
    if port is not None:
        command += ["--port", str(port)]
    if headless:
        command.append("--headless")
    if central and name != "analysis":
        raise DevtraceError(f"the {name} notebook works on a store; --central is for the analysis notebook and the report")
    env = marimo_env(path, central)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, env)


def export_report(out: str | os.PathLike, path: str | os.PathLike | None = None, central: str | None = None) -> None:
    """Run the analysis notebook on the store and write it as one static HTML page.

    The page renders with marimo's frontend, which it loads from the jsDelivr CDN.
    """
    out = os.path.abspath(os.fspath(out))
    _check_writable(out)
    env = marimo_env(path, central)
    # marimo saves a snapshot of the outputs in __marimo__/ beside the notebook it exports:
    # export a copy, so the store's data is not left inside the installed package.
    with tempfile.TemporaryDirectory(prefix="devtrace-report-") as scratch:
        notebook = shutil.copy(notebook_file("analysis"), scratch)
        command = [sys.executable, "-m", "marimo", "export", "html", notebook, "--output", out, "--no-include-code", "--force"]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        crash = _exception_line(done.stderr)
        if crash:  # marimo itself stopped, not a cell
            raise DevtraceError(f"cannot write the report to {out}: {crash}")
        # marimo names the first failing cell first, then sums up ("some cells failed to execute").
        reason = _first_line(done.stderr) or _first_line(done.stdout) or f"marimo exited with {done.returncode}"
        raise DevtraceError(f"the analysis notebook failed on this store: {reason}")


def _check_writable(out: str) -> None:
    if os.path.isdir(out):
        raise DevtraceError(f"cannot write the report to {out}: it is a folder (name the file, e.g. {os.path.join(out, 'report.html')})")
    if not os.path.isdir(os.path.dirname(out)):
        raise DevtraceError(f"cannot write {out}: folder {os.path.dirname(out)} does not exist")


def _exception_line(text: str) -> str:
    """The exception the last Python traceback in `text` ends in ("OSError: ..."), or ""."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last):")]
    if not starts:
        return ""
    # A traceback's frames are indented; the first line after them names the exception.
    return next((line.strip() for line in lines[starts[-1] + 1:] if line.strip() and not line[0].isspace()), "")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""

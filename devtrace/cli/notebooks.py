"""Notebook commands: `devtrace notebook NAME` and `devtrace report`."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from devtrace.cli.core import CentralOption, PathOption


class Notebook(StrEnum):
    analysis = "analysis"
    labeling = "labeling"
    retraining = "retraining"


def register(app: typer.Typer) -> None:
    app.command("notebook")(notebook)
    app.command("report")(report)


def notebook(
    name: Annotated[Notebook, typer.Argument(help="Which notebook to open.")],
    path: PathOption = None,
    edit: Annotated[bool, typer.Option("--edit", help="Open the notebook's code in marimo's editor.")] = False,
    port: Annotated[Optional[int], typer.Option("--port", help="Port to serve on (default: a free one).")] = None,
    headless: Annotated[bool, typer.Option("--headless", help="Do not open a web browser.")] = False,
    central: CentralOption = None,
) -> None:
    """Serve a marimo notebook (analysis, labeling or retraining) on the store."""
    from devtrace.cli.marimo_apps import serve

    serve(name.value, path=path, edit=edit, port=port, headless=headless, central=central)


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    path: PathOption = None,
    central: CentralOption = None,
) -> None:
    """Write the analysis notebook, run on the store, as one static HTML page."""
    from devtrace.cli.marimo_apps import export_report

    export_report(out, path=path, central=central)
    typer.echo(f"Wrote the analysis report to {out}")

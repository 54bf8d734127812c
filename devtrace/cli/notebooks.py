"""`devtrace notebook NAME`: serve a marimo notebook."""

from enum import StrEnum
from typing import Annotated, Optional

import typer

from devtrace.cli.options import CentralOption, PathOption


class Notebook(StrEnum):
    analysis = "analysis"
    labeling = "labeling"
    retraining = "retraining"


def register(app: typer.Typer) -> None:
    app.command("notebook")(notebook)


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


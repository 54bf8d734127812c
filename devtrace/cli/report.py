"""`devtrace report`: the analysis as one HTML file that opens offline (or marimo's export)."""

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from devtrace.cli.options import CentralOption, PathOption
from devtrace.errors import DevtraceError


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    path: PathOption = None,
    central: CentralOption = None,
    agent: Annotated[
        Optional[list[str]],
        typer.Option("--agent", metavar="AGENT", help="Only this agent's events; repeat for several ('' = captured without an agent)."),
    ] = None,
    since: Annotated[
        Optional[datetime], typer.Option("--since", formats=["%Y-%m-%d"], metavar="DAY", help="First UTC day (YYYY-MM-DD).")
    ] = None,
    until: Annotated[
        Optional[datetime], typer.Option("--until", formats=["%Y-%m-%d"], metavar="DAY", help="Last UTC day, included (YYYY-MM-DD).")
    ] = None,
    program: Annotated[
        Optional[list[str]], typer.Option("--program", metavar="PROGRAM", help="Only this program's events; repeat for several.")
    ] = None,
    marimo: Annotated[
        bool,
        typer.Option(
            "--marimo",
            help="Write marimo's export of the analysis notebook instead, on every event: searchable tables,"
            " but it loads marimo's frontend from the jsDelivr CDN, so it opens blank without internet access.",
        ),
    ] = False,
) -> None:
    """Write the analysis (headline numbers, charts, tables) as one HTML file that opens offline."""
    if marimo:
        if agent or program or since or until:
            raise DevtraceError("--marimo exports the notebook on every event: drop --agent, --program, --since and --until")
        from devtrace.cli.marimo_apps import export_report

        export_report(out, path=path, central=central)
        typer.echo(f"Wrote marimo's export of the analysis notebook to {out} (it needs internet access to open)")
        return
    import importlib.util

    if not all(importlib.util.find_spec(m) for m in ("altair", "vl_convert")):
        raise DevtraceError("the report needs altair and vl-convert-python: pip install 'devtrace[report]'")
    from devtrace import analytics, paths
    from devtrace.analytics.report import Filters, write_report

    chosen = Filters(
        agents=[name or None for name in agent or []],
        since=since and since.date(),
        until=until and until.date(),
        programs=program or [],
    )
    if central:
        from devtrace.analytics.central import is_postgres

        source = f"central database {central.split('@')[-1] if is_postgres(central) else os.path.abspath(central)}"
    else:
        source = f"store {os.path.abspath(paths.store_dir(path))}"
    with analytics.connect(path, central=central) as con:
        size = write_report(con, out, source, chosen)
    typer.echo(f"Wrote the analysis report to {out} ({size / 1e6:.1f} MB, one file that opens offline)")

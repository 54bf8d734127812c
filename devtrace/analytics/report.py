"""The analysis as one HTML file that needs nothing else to render.

Headline numbers, the analysis notebook's charts and its main tables, with the filters the
report was made with at the top. The frames come from `overview` and the charts from
`charts`, as in the notebook. The Vega, Vega-Lite and Vega-Embed libraries are inlined (as
vl-convert bundles them) and every chart's data is in its spec: opened without a network,
the page draws everything and requests nothing.
"""

import datetime as dt
import html
import json
import os
import re
from collections.abc import Sequence
from typing import NamedTuple

import altair as alt
import duckdb
import polars as pl
import vl_convert

from devtrace import __version__
from devtrace.analytics import charts, overview
from devtrace.analytics.filters import filter_events
from devtrace.errors import DevtraceError
from devtrace.readable import MISSING, local_time

TABLE_ROWS = 200
"""Each table shows at most this many rows (the page says how many there are)."""


class Filters(NamedTuple):
    """Which events a report covers, as the analysis notebook's filters choose them: these
    agents (None: captured without one), UTC days and programs; none chosen means all."""

    agents: Sequence[str | None] = ()
    since: dt.date | None = None
    until: dt.date | None = None
    programs: Sequence[str] = ()


def write_report(
    con: duckdb.DuckDBPyConnection, out: str | os.PathLike, source: str, filters: Filters = Filters()
) -> int:
    """Build the report on `con` (see `build_report`) and write it to `out`; returns its size in bytes."""
    out = os.fspath(out)
    if os.path.isdir(out):
        raise DevtraceError(f"cannot write the report to {out}: it is a folder (name the file, e.g. {os.path.join(out, 'report.html')})")
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise DevtraceError(f"cannot write {out}: folder {os.path.dirname(os.path.abspath(out))} does not exist")
    page = build_report(con, source, filters).encode("utf-8")
    try:
        with open(out, "wb") as f:
            f.write(page)
    except OSError as exc:
        raise DevtraceError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    return len(page)


def build_report(
    con: duckdb.DuckDBPyConnection,
    source: str,
    filters: Filters = Filters(),
    made_at: dt.datetime | None = None,
) -> str:
    """The report on the events of `con`, an analytics connection (every view defined), as
    HTML. `source` says where the events are (a store's path); `con` is narrowed to `filters`."""
    span = overview.span(con)
    if not span["events"]:
        raise DevtraceError(f"{source} has no events yet: capture some with devtrace run")
    _check_names("agent", filters.agents, overview.agent_names(con), source)
    _check_names("program", filters.programs, overview.program_names(con), source)
    days = None
    if filters.since or filters.until:
        days = (filters.since or span["first_day"], filters.until or span["last_day"])
        if days[0] > days[1]:
            raise DevtraceError(f"no day is both from {days[0]} and until {days[1]}")
    filter_events(con, agents=filters.agents, days=days, programs=filters.programs)
    totals = overview.totals(con)
    chosen = _describe(filters, days, span)
    if totals.is_empty():
        raise DevtraceError(f"no events match these filters ({'; '.join(f'{k}: {v}' for k, v in chosen)})")

    per_day, per_command, loops = overview.per_day(con), overview.per_command(con), overview.retry_loops(con)
    trend, recent = overview.productivity_trend(con), overview.recent_events(con, TABLE_ROWS)
    drawn = [
        charts.activity_chart(per_day),
        charts.failure_chart(per_day),
        charts.churn_chart(per_day),
        charts.duration_chart(overview.duration_bins(con)),
        charts.productivity_chart(trend) if trend.height else charts.NO_SCORES,
        charts.failing_chart(per_command),
        charts.retry_chart(loops) if loops.height else charts.NO_LOOPS,
    ]
    specs = []
    figures = []
    with alt.data_transformers.disable_max_rows():  # the data is inlined in any case
        for chart in drawn:
            if isinstance(chart, str):
                figures.append(f'<p class="note">{_inline_code(chart)}</p>')
            else:
                figures.append(f'<figure class="chart" data-chart="{len(specs)}"></figure>')
                specs.append(chart.to_dict())
    top = overview.where_time_went(con)
    stuck, cost, greens = overview.likely_stuck(con), overview.agent_cost(con), overview.time_to_green(con)
    repos = overview.repo_outcomes(con)
    tables = [
        ("Daily activity", "by day", per_day, per_day.height),
        ("Commands", "the most failing first", per_command, per_command.height),
        ("Retry loops", "the newest first", loops, loops.height),
        ("Likely stuck sessions", "the model's predicted outcomes falling, the most recently flagged first", stuck, stuck.height),
        ("Time to green", "per repository and command, people and agents side by side", greens, greens.height),
        ("What agent sessions cost", "per agent, the costliest first", cost, cost.height),
        ("People and agents per repository", "runs, green runs, time to green and cost, the busiest first", repos, repos.height),
        ("Events", "the newest first", recent, totals["commands"][0]),
    ]
    made_at = made_at or dt.datetime.now(dt.UTC)
    return _PAGE.format(
        title="DevTrace analysis",
        made=html.escape(f"{source} · made {made_at:%Y-%m-%d %H:%M} UTC by DevTrace {__version__}"),
        filters="".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in chosen),
        stats="".join(
            f'<div class="stat"><div class="label">{html.escape(s.label)}</div><div class="value">{html.escape(s.value)}</div>'
            f'<div class="caption">{html.escape(s.caption)}</div></div>'
            for s in overview.headline(totals, loops)
        ),
        top=_table("Where the time went", "the commands that took the most time first", top, top.height),
        charts="".join(figures),
        tables="".join(_table(*table) for table in tables),
        # In JSON, "<" only occurs inside strings, where \u003c means the same.
        specs=json.dumps(specs, separators=(",", ":")).replace("<", "\\u003c"),
        vega=_script_text(_vega_bundle()),
        draw=_DRAW,
    )


def _check_names(kind: str, chosen: Sequence[str | None], known: list[str | None], source: str) -> None:
    unknown = [name for name in chosen if name not in known]
    if unknown:
        listed = ", ".join(_name(n) for n in known[:12]) + (", ..." if len(known) > 12 else "")
        raise DevtraceError(f"no {kind} {_name(unknown[0])} in {source} ({kind}s: {listed})")


def _name(value: str | None) -> str:
    return overview.NO_AGENT if value is None else repr(value)


def _describe(filters: Filters, days: tuple[dt.date, dt.date] | None, span: dict) -> list[tuple[str, str]]:
    """The filters as printed at the top of the report."""
    return [
        ("Agents", ", ".join(overview.NO_AGENT if a is None else a for a in filters.agents) or "all"),
        ("Days (UTC)", f"all ({span['first_day']} to {span['last_day']})" if days is None else f"{days[0]} to {days[1]}"),
        ("Programs", ", ".join(filters.programs) or "all"),
    ]


def _vega_bundle() -> str:
    """Vega, Vega-Lite (the version altair writes) and Vega-Embed as one script."""
    version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    try:
        return vl_convert.javascript_bundle(vl_version=version)
    except ValueError as exc:
        raise DevtraceError(f"vl-convert-python cannot bundle Vega-Lite {version}, which altair writes: {exc}") from None


def _table(title: str, order: str, frame: pl.DataFrame, rows: int) -> str:
    """`frame` as a table of at most TABLE_ROWS of its `rows` rows."""
    shown = frame.head(TABLE_ROWS)
    if shown.height == rows:
        count = f"{rows:,} row{'' if rows == 1 else 's'}, {order}"
    else:
        count = f"the first {shown.height:,} of {rows:,} rows, {order} (devtrace sql or devtrace export for all)"
    numeric = [dtype.is_numeric() for dtype in shown.dtypes]
    head = "".join(f'<th{_align(n)}>{html.escape(c)}</th>' for c, n in zip(shown.columns, numeric, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{_align(n)}>{html.escape(_cell(v))}</td>" for v, n in zip(row, numeric, strict=True)) + "</tr>"
        for row in shown.iter_rows()
    )
    return (
        f'<section class="table"><h3>{html.escape(title)}</h3><p class="note">{count}</p>'
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></section>'
    )


def _align(numeric: bool) -> str:
    return ' class="num"' if numeric else ""


def _cell(value) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, dt.datetime):
        return local_time(value)
    return str(value)


def _inline_code(text: str) -> str:
    """Markdown's `code` spans as <code>, the rest escaped."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _script_text(text: str) -> str:
    """Text that cannot end the <script> element it is put in."""
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


_DRAW = """
const specs = JSON.parse(document.getElementById('devtrace-specs').textContent);
for (const figure of document.querySelectorAll('figure.chart')) {
  vegaEmbed(figure, specs[Number(figure.dataset.chart)], {actions: false, renderer: 'svg'}).catch((error) => {
    figure.classList.add('failed');
    figure.textContent = 'This chart could not be drawn: ' + error.message;
  });
}
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328; background: #fff; }}
main {{ max-width: 1200px; margin: 0 auto; padding: 24px; }}
h1 {{ margin: 0 0 4px; font-size: 1.8em; }}
h2 {{ margin: 32px 0 8px; font-size: 1.3em; }}
h3 {{ margin: 24px 0 4px; font-size: 1.05em; }}
.made, .note {{ color: #59636e; margin: 4px 0; }}
.filters {{ display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 16px 0;
  padding: 12px 16px; background: #f6f8fa; border: 1px solid #d1d9e0; border-radius: 6px; }}
.filters dt {{ font-weight: 600; }} .filters dd {{ margin: 0; }}
.stats {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 16px 0; }}
.stat {{ border: 1px solid #d1d9e0; border-radius: 6px; padding: 12px 16px; }}
.stat .label {{ color: #59636e; font-size: .9em; }} .stat .value {{ font-size: 1.8em; font-weight: 600; }}
.stat .caption {{ color: #59636e; font-size: .85em; min-height: 1.2em; }}
.charts {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 24px; }}
.chart {{ margin: 0; min-width: 0; }} .chart .vega-embed {{ width: 100%; }}
.chart.failed {{ color: #d1242f; }}
.scroll {{ overflow-x: auto; max-height: 480px; border: 1px solid #d1d9e0; border-radius: 6px; }}
table {{ border-collapse: collapse; font-size: .85em; white-space: nowrap; }}
th, td {{ padding: 4px 8px; border-bottom: 1px solid #eaeef2; text-align: left; }}
th {{ position: sticky; top: 0; background: #f6f8fa; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
code {{ background: #f6f8fa; padding: 0 4px; border-radius: 4px; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p class="made">{made}</p>
<dl class="filters">{filters}</dl>
<section class="stats">{stats}</section>
{top}
<h2>Charts</h2>
<noscript><p class="note">The charts are drawn by JavaScript, which is off: the numbers and tables need none.</p></noscript>
<section class="charts">{charts}</section>
<h2>Tables</h2>
{tables}
</main>
<script type="application/json" id="devtrace-specs">{specs}</script>
<script>{vega}</script>
<script>{draw}</script>
</body>
</html>
"""

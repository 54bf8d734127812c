"""Values as a person reads them: one way to show a missing value, a time, a duration, a share.

Human output only (the terminal, the report, the notebooks); machine output (`--json`,
`--format`, exports) keeps the exact values. Standard library only, so every layer can use it.
"""

import datetime as dt

MISSING = "—"
"""How a missing or unknown value is shown, everywhere."""


def value(v, digits: int = 2) -> str:
    """Any value: missing as MISSING, floats to `digits` places, times as local_time."""
    if v is None:
        return MISSING
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != v:  # NaN
            return MISSING
        return f"{v:.{digits}f}"
    if isinstance(v, dt.datetime):
        return local_time(v)
    return str(v)


def local_time(moment, seconds: bool = True) -> str:
    """A moment as local ISO date and time (`2026-12-06 09:14:02`). A naive datetime is UTC
    (the views' timestamps are); a number is unix seconds."""
    if moment is None:
        return MISSING
    if isinstance(moment, (int, float)):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    elif moment.tzinfo is None:
        if moment in (dt.datetime.max, dt.datetime.min):  # DuckDB's +-infinity
            return "infinity" if moment == dt.datetime.max else "-infinity"
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def duration(ms) -> str:
    """A duration in milliseconds as a person says it: 48 ms, 1.2 s, 3 min 05 s, 2 h 10 min."""
    if ms is None:
        return MISSING
    ms = float(ms)
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds + 0.5), 60)  # half up, as people round
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def share(fraction) -> str:
    """A fraction as a whole percentage (`41%`; `<1%` for a small non-zero one)."""
    if fraction is None:
        return MISSING
    percent = fraction * 100
    if 0 < percent < 1:
        return "<1%"
    return f"{percent:.0f}%"


def count(n) -> str:
    return MISSING if n is None else f"{n:,}"


def dollars(amount) -> str:
    """An estimated cost in US dollars: `$1.24`, `$0.0031` (two significant digits under a dollar)."""
    if amount is None:
        return MISSING
    if amount == 0 or abs(amount) >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.2g}" if abs(amount) >= 0.01 else f"${amount:.2}"


def truncate(text: str, width: int) -> str:
    """`text` on one line in at most `width` characters, cut with "…"."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"

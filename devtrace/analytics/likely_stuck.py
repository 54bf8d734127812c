""""Likely stuck": a session whose predicted outcomes fall, flagged where people look.

One definition, used by `devtrace events` (on the rows it shows), `devtrace top`, the report
and the analysis notebook (over the events of their period or filters): a failed event is
flagged when the active model predicts an outcome under 40 for it and that prediction is the
third falling one in a row of its session. The model expects this session's work to end badly
while it is still going on; the `stuck_sessions` view, by contrast, reports loops that already
ended without a success.
"""

import datetime as dt

import duckdb

FLAG = "likely stuck"

_FLAGGED = f"""
SELECT
    *,
    CASE WHEN failed AND predicted_productivity < 40
        AND predicted_productivity < lag(predicted_productivity) OVER same_session
        AND lag(predicted_productivity) OVER same_session < lag(predicted_productivity, 2) OVER same_session
        THEN '{FLAG}' END AS flag
FROM {{rows}}
WINDOW same_session AS (PARTITION BY session_id ORDER BY executed_at, id)
"""


def flag_likely_stuck(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """`relation` (rows of `events`) with `flag` = 'likely stuck' on a failed event whose
    predicted outcome is under 40 and the third falling one in a row of its session (among
    these rows), oldest first."""
    return relation.query("rows", _FLAGGED.format(rows="rows") + "ORDER BY executed_at, id")


SESSIONS = f"""
WITH flagged AS ({_FLAGGED.format(rows="(SELECT * FROM events WHERE executed_at >= $since)")})
SELECT
    session_id,
    coalesce(any_value(agent_id), any_value(author_kind)) AS who,
    count(*) FILTER (WHERE flag IS NOT NULL) AS flagged_events,
    max(executed_at) FILTER (WHERE flag IS NOT NULL) AS last_flagged_at,
    arg_max(predicted_productivity, (executed_at, id)) FILTER (WHERE flag IS NOT NULL) AS last_flagged_score,
    arg_max(flag, (executed_at, id)) IS NOT NULL AS still_falling
FROM flagged
WHERE session_id IS NOT NULL
GROUP BY session_id
HAVING count(*) FILTER (WHERE flag IS NOT NULL) > 0
ORDER BY last_flagged_at DESC, session_id
"""


def likely_stuck_sessions(con: duckdb.DuckDBPyConnection, since: dt.datetime | None = None) -> duckdb.DuckDBPyRelation:
    """One row per session with a 'likely stuck' event among the events of `con` (from `since`
    on, a naive UTC datetime, if given), the most recently flagged first: who ran it, how many
    events were flagged, when the last was and its predicted outcome, and `still_falling` =
    the session's newest event is flagged (nothing has turned it round since)."""
    return con.sql(SESSIONS, params={"since": since or dt.datetime.min})

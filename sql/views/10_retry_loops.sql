-- Flailing: runs of one command by one agent in one session, each re-run soon after a failure.
--
-- A run continues a loop when the same command's previous run (same session and agent)
-- failed and ended at most the retry window earlier: 300 s, or whatever
-- `SET VARIABLE retry_window_seconds = 60;` says. One row per loop of two runs or more;
-- `resolved` says whether its last run succeeded; `command` is the command as people read it.
--
-- One pass over the events finds, for each run, whether it retries the run before it and
-- whether the run after it retries it; only runs in a loop of two or more (usually a small
-- share of all runs) go on to be numbered and grouped.
CREATE OR REPLACE VIEW retry_loops AS
WITH runs AS (
    SELECT
        id, session_id, agent_id, command_hash, program, command, started_at, ended_at, failed,
        coalesce(
            lag(failed) OVER same_command
            AND epoch(started_at) - epoch(lag(ended_at) OVER same_command)
                <= CAST(coalesce(getvariable('retry_window_seconds'), 300) AS DOUBLE),
            false
        ) AS is_retry,
        -- The same test seen from the run before: the next run retries this one.
        coalesce(
            failed
            AND epoch(lead(started_at) OVER same_command) - epoch(ended_at)
                <= CAST(coalesce(getvariable('retry_window_seconds'), 300) AS DOUBLE),
            false
        ) AS is_retried
    FROM events
    WHERE session_id IS NOT NULL
    WINDOW same_command AS (PARTITION BY session_id, agent_id, command_hash ORDER BY started_at, id)
),
numbered AS (
    SELECT
        *,
        count(*) FILTER (WHERE NOT is_retry) OVER (
            PARTITION BY session_id, agent_id, command_hash ORDER BY started_at, id
            ROWS UNBOUNDED PRECEDING
        ) AS loop_number
    FROM runs
    WHERE is_retry OR is_retried
)
SELECT
    arg_max(command, started_at) AS command,
    session_id,
    agent_id,
    command_hash,
    program,
    min(started_at) AS started_at,
    max(ended_at) AS ended_at,
    count(*) AS runs,
    count(*) - 1 AS retries,
    count(*) FILTER (WHERE failed) AS failures,
    last(NOT failed ORDER BY started_at, id) AS resolved
FROM numbered
GROUP BY session_id, agent_id, command_hash, program, loop_number
HAVING count(*) > 1;

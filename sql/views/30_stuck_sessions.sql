-- Sessions with a retry loop that ended without a success; in_loop_now when it may still be going on.
--
-- One row per session with a stuck loop (a row of retry_loops whose last run failed): how
-- many such loops and runs, its longest loop and that loop's program, when the last of them
-- failed, and in_loop_now = that failure is within the retry window (300 s, or
-- `SET VARIABLE retry_window_seconds`) of "now" (the store's last event, or
-- `SET VARIABLE outcomes_now = <unix seconds>;`): the session may be flailing at this moment.
CREATE OR REPLACE VIEW stuck_sessions AS
WITH settings AS (
    SELECT
        CAST(coalesce(getvariable('retry_window_seconds'), 300) AS DOUBLE) AS retry_s,
        CAST(coalesce(getvariable('outcomes_now'), (SELECT max(epoch(ended_at)) FROM events)) AS DOUBLE) AS now
)
SELECT
    session_id,
    string_agg(DISTINCT agent_id, ', ' ORDER BY agent_id) AS agents,
    count(*) AS stuck_loops,
    CAST(sum(runs) AS BIGINT) AS stuck_runs,
    max(runs) AS longest_loop,
    arg_max(program, runs) AS longest_loop_program,
    max(ended_at) AS last_failed_at,
    epoch(max(ended_at)) >= any_value(s.now) - any_value(s.retry_s) AS in_loop_now
FROM retry_loops, settings AS s
WHERE NOT resolved
GROUP BY session_id;

-- Where the time goes, run by run: the command as people read it, who ran it, and the time a retry loop lost.
--
-- who: the agent's name, 'human' for a person without one, else '(unknown)'.
-- lost_in_retry_ms: the duration of a failed run that the same command, in the same session
-- and by the same agent, re-ran within the retry window (300 s, or `SET VARIABLE
-- retry_window_seconds = 60;`, as retry_loops): time spent on an attempt that had to be
-- redone. 0 for every other run; NULL where the duration is unknown.
-- The period: events from `SET VARIABLE top_since = TIMESTAMP '2026-12-01';` (UTC) on, if set
-- (filtered before the retry window is computed: a run's next run is in the period too).
CREATE OR REPLACE VIEW time_spent AS
SELECT
    id,
    executed_at,
    command,
    command_hash,
    command_key,
    program,
    repo_id,
    coalesce(agent_id, CASE WHEN author_kind = 'human' THEN 'human' END, '(unknown)') AS who,
    author_kind = 'agent' OR agent_id IS NOT NULL AS by_agent,
    duration_ms,
    failed,
    CASE
        WHEN coalesce(
            failed
            AND session_id IS NOT NULL
            AND epoch(lead(started_at) OVER same_command) - epoch(ended_at)
                <= CAST(coalesce(getvariable('retry_window_seconds'), 300) AS DOUBLE),
            false
        ) THEN duration_ms
        ELSE 0
    END AS lost_in_retry_ms
FROM events
WHERE executed_at >= coalesce(CAST(getvariable('top_since') AS TIMESTAMP), TIMESTAMP '-infinity')
WINDOW same_command AS (PARTITION BY session_id, agent_id, command_hash ORDER BY started_at, id);

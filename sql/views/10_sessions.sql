-- Per session: the command it spent the most time on, agents, span, commands, failures and lines changed.
--
-- Events without a session (captured by DevTrace 0.2.0) are left out. command = the command
-- (as people read it, events.command) that took the most wall time in the session, of equal
-- ones the one run last. lines_* sum what the commands changed (delta_lines_*); NULL when that
-- is known for none of them.
CREATE OR REPLACE VIEW sessions AS
WITH session_events AS MATERIALIZED (
    FROM events WHERE session_id IS NOT NULL
),
per_command AS (
    SELECT
        session_id,
        arg_max(command, executed_at) AS command,
        coalesce(sum(duration_ms), 0) AS wall_ms,
        max(executed_at) AS last_run
    FROM session_events
    GROUP BY session_id, command_hash
),
main_command AS (
    SELECT session_id, arg_max(command, (wall_ms, last_run)) AS command
    FROM per_command
    GROUP BY session_id
)
SELECT
    m.command,
    e.session_id,
    string_agg(DISTINCT e.agent_id, ', ' ORDER BY e.agent_id) AS agents,
    min(e.started_at) AS started_at,
    max(e.ended_at) AS ended_at,
    epoch(max(e.ended_at)) - epoch(min(e.started_at)) AS span_seconds,
    count(*) AS commands,
    count(*) FILTER (WHERE e.failed) AS failures,
    CAST(sum(e.delta_lines_added) AS BIGINT) AS lines_added,
    CAST(sum(e.delta_lines_deleted) AS BIGINT) AS lines_deleted,
    CAST(sum(e.delta_lines_added + e.delta_lines_deleted) AS BIGINT) AS lines_changed,
    count(DISTINCT e.repo_id) AS repos
FROM session_events AS e
JOIN main_command AS m USING (session_id)
GROUP BY e.session_id, m.command;

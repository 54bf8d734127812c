-- Per session: agents, span, commands, failures and lines changed.
--
-- Events without a session (captured by DevTrace 0.2.0) are left out. lines_* sum what
-- the commands changed (delta_lines_*); NULL when that is known for none of them.
CREATE OR REPLACE VIEW sessions AS
SELECT
    session_id,
    string_agg(DISTINCT agent_id, ', ' ORDER BY agent_id) AS agents,
    min(started_at) AS started_at,
    max(ended_at) AS ended_at,
    epoch(max(ended_at)) - epoch(min(started_at)) AS span_seconds,
    count(*) AS commands,
    count(*) FILTER (WHERE failed) AS failures,
    CAST(sum(delta_lines_added) AS BIGINT) AS lines_added,
    CAST(sum(delta_lines_deleted) AS BIGINT) AS lines_deleted,
    CAST(sum(delta_lines_added + delta_lines_deleted) AS BIGINT) AS lines_changed,
    count(DISTINCT repo_id) AS repos
FROM events
WHERE session_id IS NOT NULL
GROUP BY session_id;

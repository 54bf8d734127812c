-- Per agent over the whole store: the daily_activity measures plus first and last seen.
--
-- lines_added / lines_deleted sum what the commands themselves changed (delta_lines_*);
-- NULL when that is known for none of the agent's events.
CREATE OR REPLACE VIEW agent_summary AS
SELECT
    agent_id,
    count(*) AS commands,
    count(*) FILTER (WHERE failed) AS failures,
    count(*) FILTER (WHERE timed_out) AS timeouts,
    count(*) FILTER (WHERE failed) / count(*) AS failure_rate,
    CAST(sum(delta_lines_added) AS BIGINT) AS lines_added,
    CAST(sum(delta_lines_deleted) AS BIGINT) AS lines_deleted,
    quantile_cont(duration_ms, 0.5) AS median_duration_ms,
    quantile_cont(duration_ms, 0.95) AS p95_duration_ms,
    avg(predicted_productivity) AS mean_predicted_productivity,
    count(DISTINCT CAST(executed_at AS DATE)) AS active_days,
    min(executed_at) AS first_seen,
    max(executed_at) AS last_seen
FROM events
GROUP BY agent_id;

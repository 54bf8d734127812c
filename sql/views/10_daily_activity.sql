-- Per UTC day and agent: commands, failures, timeouts, lines changed, duration percentiles, mean score.
--
-- lines_added / lines_deleted sum what the commands themselves changed (delta_lines_*), over
-- the events where that is known: NULL when it is known for none of them.
CREATE OR REPLACE VIEW daily_activity AS
SELECT
    CAST(executed_at AS DATE) AS day,
    agent_id,
    count(*) AS commands,
    count(*) FILTER (WHERE failed) AS failures,
    count(*) FILTER (WHERE timed_out) AS timeouts,
    count(*) FILTER (WHERE failed) / count(*) AS failure_rate,
    CAST(sum(delta_lines_added) AS BIGINT) AS lines_added,
    CAST(sum(delta_lines_deleted) AS BIGINT) AS lines_deleted,
    quantile_cont(duration_ms, 0.5) AS median_duration_ms,
    quantile_cont(duration_ms, 0.95) AS p95_duration_ms,
    avg(predicted_productivity) AS mean_predicted_productivity
FROM events
GROUP BY day, agent_id;

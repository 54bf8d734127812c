-- Per agent: what its sessions cost, per session, per green run and per retry loop it ended.
--
-- Over agent_sessions whose last activity is in the period (from `SET VARIABLE top_since =
-- TIMESTAMP '2026-12-01';`, UTC, as `top`): `sessions`, and `priced_sessions` of them with an
-- estimated cost (tokens imported from a transcript and every model priced); their
-- `estimated_cost_usd`, and that cost divided by those priced sessions' count
-- (`cost_per_session_usd`), by the passing runs of theirs that turned an earlier failure green
-- (`cost_per_green_run_usd`) and by the retry loops of theirs a passing run ended
-- (`cost_per_loop_ended_usd`): what a green build, or breaking out of a loop, cost in tokens.
-- NULL where there is nothing to divide by. `stuck_loops` counts loops that ended without a
-- success; `median_time_to_green_s` is the median over sessions of their median.
CREATE OR REPLACE VIEW agent_cost AS
WITH period AS (
    SELECT *, estimated_cost_usd IS NOT NULL AS priced
    FROM agent_sessions
    WHERE ended_at >= coalesce(CAST(getvariable('top_since') AS TIMESTAMP), TIMESTAMP '-infinity')
)
SELECT
    agent,
    count(*) AS sessions,
    count(*) FILTER (WHERE priced) AS priced_sessions,
    sum(estimated_cost_usd) AS estimated_cost_usd,
    sum(estimated_cost_usd) / nullif(count(*) FILTER (WHERE priced), 0) AS cost_per_session_usd,
    CAST(sum(green_runs) AS BIGINT) AS green_runs,
    sum(estimated_cost_usd) / nullif(sum(green_runs) FILTER (WHERE priced), 0) AS cost_per_green_run_usd,
    CAST(sum(loops_ended) AS BIGINT) AS loops_ended,
    sum(estimated_cost_usd) / nullif(sum(loops_ended) FILTER (WHERE priced), 0) AS cost_per_loop_ended_usd,
    CAST(sum(stuck_loops) AS BIGINT) AS stuck_loops,
    CAST(sum(shell_commands) AS BIGINT) AS shell_commands,
    CAST(sum(failures) AS BIGINT) AS failures,
    median(median_time_to_green_s) AS median_time_to_green_s
FROM period
GROUP BY agent;

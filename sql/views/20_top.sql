-- Where did my time go: wall time, its share, runs, failures and time lost in retry loops, by command, program, repo and who ran it.
--
-- One row per group, for each way of grouping (`by`): 'command' (key: the command as people
-- read it, its most recent text; grouped by its hash), 'program', 'repo' (a keyed repository
-- id), 'agent' (the agent's name, or 'human'). share = the group's part of all the wall time
-- in the period; human_* and agent_* put a person's runs and agents' runs side by side.
-- The period is time_spent's: from `SET VARIABLE top_since = TIMESTAMP '2026-12-01';` (UTC) on.
-- key_fingerprint (by 'command' only): the key the command's hash is under (events.command_key);
-- a command without stored text recorded under two keys is two rows that say which key.
-- One branch per grouping: a query for one `by` computes that one only.
CREATE OR REPLACE VIEW top AS
WITH grouped AS (
    SELECT 'command' AS "by", arg_max(command, executed_at) AS key,
        CAST(coalesce(sum(duration_ms), 0) AS BIGINT) AS wall_ms,
        count(*) AS runs,
        count(*) FILTER (WHERE failed) AS failures,
        CAST(coalesce(sum(lost_in_retry_ms), 0) AS BIGINT) AS lost_in_retry_ms,
        CAST(coalesce(sum(duration_ms) FILTER (WHERE NOT by_agent), 0) AS BIGINT) AS human_ms,
        CAST(coalesce(sum(duration_ms) FILTER (WHERE by_agent), 0) AS BIGINT) AS agent_ms,
        count(*) FILTER (WHERE NOT by_agent) AS human_runs,
        count(*) FILTER (WHERE by_agent) AS agent_runs,
        count(*) FILTER (WHERE failed AND NOT by_agent) AS human_failures,
        count(*) FILTER (WHERE failed AND by_agent) AS agent_failures,
        max(executed_at) AS last_run,
        any_value(command_key) AS key_fingerprint
    FROM time_spent GROUP BY command_hash
    UNION ALL
    SELECT 'program', coalesce(program, '(unknown)'),
        CAST(coalesce(sum(duration_ms), 0) AS BIGINT) AS wall_ms,
        count(*) AS runs,
        count(*) FILTER (WHERE failed) AS failures,
        CAST(coalesce(sum(lost_in_retry_ms), 0) AS BIGINT) AS lost_in_retry_ms,
        CAST(coalesce(sum(duration_ms) FILTER (WHERE NOT by_agent), 0) AS BIGINT) AS human_ms,
        CAST(coalesce(sum(duration_ms) FILTER (WHERE by_agent), 0) AS BIGINT) AS agent_ms,
        count(*) FILTER (WHERE NOT by_agent) AS human_runs,
        count(*) FILTER (WHERE by_agent) AS agent_runs,
        count(*) FILTER (WHERE failed AND NOT by_agent) AS human_failures,
        count(*) FILTER (WHERE failed AND by_agent) AS agent_failures,
        max(executed_at) AS last_run,
        NULL AS key_fingerprint
    FROM time_spent GROUP BY program
    UNION ALL
    SELECT 'repo', coalesce(repo_id, '(no repo)'),
        CAST(coalesce(sum(duration_ms), 0) AS BIGINT) AS wall_ms,
        count(*) AS runs,
        count(*) FILTER (WHERE failed) AS failures,
        CAST(coalesce(sum(lost_in_retry_ms), 0) AS BIGINT) AS lost_in_retry_ms,
        CAST(coalesce(sum(duration_ms) FILTER (WHERE NOT by_agent), 0) AS BIGINT) AS human_ms,
        CAST(coalesce(sum(duration_ms) FILTER (WHERE by_agent), 0) AS BIGINT) AS agent_ms,
        count(*) FILTER (WHERE NOT by_agent) AS human_runs,
        count(*) FILTER (WHERE by_agent) AS agent_runs,
        count(*) FILTER (WHERE failed AND NOT by_agent) AS human_failures,
        count(*) FILTER (WHERE failed AND by_agent) AS agent_failures,
        max(executed_at) AS last_run,
        NULL AS key_fingerprint
    FROM time_spent GROUP BY repo_id
    UNION ALL
    SELECT 'agent', who,
        CAST(coalesce(sum(duration_ms), 0) AS BIGINT) AS wall_ms,
        count(*) AS runs,
        count(*) FILTER (WHERE failed) AS failures,
        CAST(coalesce(sum(lost_in_retry_ms), 0) AS BIGINT) AS lost_in_retry_ms,
        CAST(coalesce(sum(duration_ms) FILTER (WHERE NOT by_agent), 0) AS BIGINT) AS human_ms,
        CAST(coalesce(sum(duration_ms) FILTER (WHERE by_agent), 0) AS BIGINT) AS agent_ms,
        count(*) FILTER (WHERE NOT by_agent) AS human_runs,
        count(*) FILTER (WHERE by_agent) AS agent_runs,
        count(*) FILTER (WHERE failed AND NOT by_agent) AS human_failures,
        count(*) FILTER (WHERE failed AND by_agent) AS agent_failures,
        max(executed_at) AS last_run,
        NULL AS key_fingerprint
    FROM time_spent GROUP BY who
)
SELECT
    "by",
    key,
    wall_ms,
    wall_ms / nullif(sum(wall_ms) OVER (PARTITION BY "by"), 0) AS share,
    * EXCLUDE ("by", key, wall_ms)
FROM grouped;

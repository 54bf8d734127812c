-- Where did my time go: wall time, its share, runs, failures and time lost in retry loops, by command, program, repo and who ran it.
--
-- One row per group, for each way of grouping (`by`): 'command' (key: the command as people
-- read it, its most recent text; grouped by its hash), 'program', 'repo' (a keyed repository
-- id), 'agent' (the agent's name, or 'human'). share = the group's part of all the wall time
-- in the period; human_* and agent_* put a person's runs and agents' runs side by side.
-- The period starts at `SET VARIABLE top_since = TIMESTAMP '2026-01-01';` (UTC), if set.
CREATE OR REPLACE VIEW top AS
WITH period AS (
    SELECT *
    FROM time_spent
    WHERE executed_at >= coalesce(CAST(getvariable('top_since') AS TIMESTAMP), TIMESTAMP '-infinity')
),
grouped AS (
    SELECT
        CASE
            WHEN GROUPING(command_hash) = 0 THEN 'command'
            WHEN GROUPING(program) = 0 THEN 'program'
            WHEN GROUPING(repo_id) = 0 THEN 'repo'
            ELSE 'agent'
        END AS "by",
        CASE
            WHEN GROUPING(command_hash) = 0 THEN arg_max(command, executed_at)
            WHEN GROUPING(program) = 0 THEN coalesce(program, '(unknown)')
            WHEN GROUPING(repo_id) = 0 THEN coalesce(repo_id, '(no repo)')
            ELSE who
        END AS key,
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
        max(executed_at) AS last_run
    FROM period
    GROUP BY GROUPING SETS ((command_hash), (program), (repo_id), (who))
)
SELECT
    "by",
    key,
    wall_ms,
    wall_ms / nullif(sum(wall_ms) OVER (PARTITION BY "by"), 0) AS share,
    * EXCLUDE ("by", key, wall_ms)
FROM grouped;

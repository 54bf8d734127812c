-- Per repository, people and agents side by side: runs, failures, how often and how fast they went green, and what the agents' green runs cost.
--
-- One row per repository and `kind` ('agent': an agent ran it, 'human': anyone else), over the
-- events of the period (from `SET VARIABLE top_since`, UTC, as `top`): `runs`, `failures`,
-- `green_runs` (passing runs that turned an earlier failure green), and of the failures
-- (next_green) `went_green`, `never_green` and `median_time_to_green_s`. For agents,
-- `estimated_cost_usd` is the cost of their priced sessions (agent_sessions) shared out by the
-- session's commands in each repository, and `cost_per_green_run_usd` divides it by those
-- sessions' green runs there; `priced_sessions` of `sessions` had a price. NULL for people.
CREATE OR REPLACE VIEW repo_outcomes AS
WITH period AS (
    SELECT
        id, repo_id, session_id, agent_id, failed,
        CASE WHEN author_kind = 'agent' OR agent_id IS NOT NULL THEN 'agent' ELSE 'human' END AS kind,
        id IN (SELECT green_id FROM next_green) AS turned_green
    FROM events
    WHERE repo_id IS NOT NULL
        AND executed_at >= coalesce(CAST(getvariable('top_since') AS TIMESTAMP), TIMESTAMP '-infinity')
),
session_share AS (
    -- Each agent session's part in each repository: its commands there of all its commands.
    SELECT
        p.repo_id,
        p.agent_id,
        p.session_id,
        count(*) FILTER (WHERE p.turned_green) AS green_runs,
        s.estimated_cost_usd * count(*) / s.shell_commands AS cost
    FROM period AS p
    JOIN agent_sessions AS s ON s.agent = p.agent_id AND s.session_id = p.session_id
    GROUP BY p.repo_id, p.agent_id, p.session_id, s.estimated_cost_usd, s.shell_commands
),
agent_costs AS (
    SELECT
        repo_id,
        count(*) AS sessions,
        count(cost) AS priced_sessions,
        sum(cost) AS estimated_cost_usd,
        sum(cost) / nullif(sum(green_runs) FILTER (WHERE cost IS NOT NULL), 0) AS cost_per_green_run_usd
    FROM session_share
    GROUP BY repo_id
),
greens AS (
    SELECT
        g.repo_id,
        CASE WHEN g.author_kind = 'agent' OR g.agent_id IS NOT NULL THEN 'agent' ELSE 'human' END AS kind,
        count(g.time_to_green_s) AS went_green,
        count(*) FILTER (WHERE g.never_green) AS never_green,
        median(g.time_to_green_s) AS median_time_to_green_s
    FROM next_green AS g
    WHERE g.repo_id IS NOT NULL AND g.id IN (SELECT id FROM period)
    GROUP BY ALL
),
runs AS (
    SELECT
        repo_id,
        kind,
        count(*) AS runs,
        count(*) FILTER (WHERE failed) AS failures,
        count(*) FILTER (WHERE turned_green) AS green_runs
    FROM period
    GROUP BY repo_id, kind
)
SELECT
    r.repo_id,
    r.kind,
    r.runs,
    r.failures,
    r.green_runs,
    coalesce(g.went_green, 0) AS went_green,
    coalesce(g.never_green, 0) AS never_green,
    g.median_time_to_green_s,
    c.sessions,
    c.priced_sessions,
    c.estimated_cost_usd,
    c.cost_per_green_run_usd
FROM runs AS r
LEFT JOIN greens AS g ON g.repo_id = r.repo_id AND g.kind = r.kind
LEFT JOIN agent_costs AS c ON c.repo_id = r.repo_id AND r.kind = 'agent';

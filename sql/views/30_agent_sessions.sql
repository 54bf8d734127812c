-- Per agent session: models, time span, turns, tool calls, shell commands and failures, tokens, the estimated cost with the price date it used, and its commands' outcomes.
--
-- Tokens and turns come from the agents' transcripts (`devtrace import claude-code|codex|gemini`,
-- table store.agent_session_usage); commands and failures from the session's events, live or
-- imported. `estimated_cost_usd` prices each model's tokens with store.agent_prices (the
-- shipped, dated table with config.toml [prices] over it, as at the last import); it is NULL
-- when a model of the session has no price (`unpriced_models` names them) or no transcript was
-- imported (tokens NULL). `price_date` says which prices were used ('config' for your own).
-- The outcomes of its commands (the docs' "Outcome labels" page): `went_green` / `never_green`,
-- its failed runs that the same command later turned green (next_green) or never did, and the
-- median `time_to_green_s` of the former; `green_runs`, its passing runs that turned an earlier
-- failure green; `stuck_loops` and `loops_ended`, its retry loops that ended without a success
-- and those a passing run ended (retry_loops).
-- `repo_id` is the repository most of the session's shell commands ran in (NULL: none ran in
-- one). Over the central store the usage comes from every machine's `devtrace sync`, priced
-- with the shipped table: `SELECT agent, repo_id, sum(estimated_cost_usd) FROM agent_sessions
-- GROUP BY ALL` is the organisation's cost per agent per repository.
CREATE OR REPLACE VIEW agent_sessions AS
WITH priced AS (
    SELECT
        u.*,
        p.model AS price_model,
        p.price_date,
        (u.input_tokens * p.input + u.output_tokens * p.output
         + u.cache_read_tokens * p.cache_read + u.cache_write_tokens * p.cache_write) / 1e6 AS cost
    FROM store.agent_session_usage AS u
    LEFT JOIN store.agent_prices AS p
        ON p.model = u.model OR p.model = regexp_replace(u.model, '-\d{8}$', '')
    QUALIFY row_number() OVER (PARTITION BY u.agent, u.session_id, u.model ORDER BY p.model = u.model DESC) = 1
),
usage AS (
    SELECT
        agent,
        session_id,
        string_agg(DISTINCT nullif(model, ''), ', ' ORDER BY nullif(model, '')) AS models,
        make_timestamp(CAST(min(started_at) * 1e6 AS BIGINT)) AS started_at,
        make_timestamp(CAST(max(ended_at) * 1e6 AS BIGINT)) AS ended_at,
        max(turns) AS turns,
        max(tool_calls) AS tool_calls,
        CAST(sum(requests) AS BIGINT) AS model_requests,
        CAST(sum(input_tokens) AS BIGINT) AS input_tokens,
        CAST(sum(output_tokens) AS BIGINT) AS output_tokens,
        CAST(sum(cache_read_tokens) AS BIGINT) AS cache_read_tokens,
        CAST(sum(cache_write_tokens) AS BIGINT) AS cache_write_tokens,
        CASE WHEN bool_and(cost IS NOT NULL) THEN sum(cost) END AS estimated_cost_usd,
        string_agg(DISTINCT model, ', ' ORDER BY model) FILTER (WHERE cost IS NULL) AS unpriced_models,
        string_agg(DISTINCT price_date, ', ' ORDER BY price_date) AS price_date
    FROM priced
    GROUP BY agent, session_id
),
commands AS (
    SELECT
        agent_id AS agent,
        session_id,
        count(*) AS shell_commands,
        count(*) FILTER (WHERE failed) AS failures,
        min(started_at) AS first_command_at,
        max(ended_at) AS last_command_at,
        count(*) FILTER (WHERE id IN (SELECT green_id FROM next_green)) AS green_runs
    FROM events
    WHERE agent_id IS NOT NULL AND session_id IS NOT NULL
    GROUP BY agent_id, session_id
),
greens AS (
    SELECT
        agent_id AS agent,
        session_id,
        count(time_to_green_s) AS went_green,
        count(*) FILTER (WHERE never_green) AS never_green,
        median(time_to_green_s) AS median_time_to_green_s
    FROM next_green
    WHERE agent_id IS NOT NULL AND session_id IS NOT NULL
    GROUP BY agent_id, session_id
),
loops AS (
    SELECT
        agent_id AS agent,
        session_id,
        count(*) FILTER (WHERE NOT resolved) AS stuck_loops,
        count(*) FILTER (WHERE resolved) AS loops_ended
    FROM retry_loops
    WHERE agent_id IS NOT NULL
    GROUP BY agent_id, session_id
),
session_repos AS (
    SELECT agent_id AS agent, session_id, repo_id
    FROM events
    WHERE agent_id IS NOT NULL AND session_id IS NOT NULL AND repo_id IS NOT NULL
    GROUP BY agent_id, session_id, repo_id
    QUALIFY row_number() OVER (PARTITION BY agent_id, session_id ORDER BY count(*) DESC, repo_id) = 1
)
SELECT
    coalesce(u.agent, c.agent) AS agent,
    coalesce(u.session_id, c.session_id) AS session_id,
    r.repo_id,
    u.models,
    least(u.started_at, c.first_command_at) AS started_at,
    greatest(u.ended_at, c.last_command_at) AS ended_at,
    u.turns,
    u.tool_calls,
    coalesce(c.shell_commands, 0) AS shell_commands,
    coalesce(c.failures, 0) AS failures,
    u.model_requests,
    u.input_tokens,
    u.output_tokens,
    u.cache_read_tokens,
    u.cache_write_tokens,
    u.estimated_cost_usd,
    u.unpriced_models,
    u.price_date,
    coalesce(g.went_green, 0) AS went_green,
    coalesce(g.never_green, 0) AS never_green,
    g.median_time_to_green_s,
    coalesce(c.green_runs, 0) AS green_runs,
    coalesce(l.stuck_loops, 0) AS stuck_loops,
    coalesce(l.loops_ended, 0) AS loops_ended
FROM usage AS u
FULL JOIN commands AS c ON c.agent = u.agent AND c.session_id = u.session_id
LEFT JOIN greens AS g ON g.agent = c.agent AND g.session_id = c.session_id
LEFT JOIN loops AS l ON l.agent = c.agent AND l.session_id = c.session_id
LEFT JOIN session_repos AS r ON r.agent = coalesce(u.agent, c.agent) AND r.session_id = coalesce(u.session_id, c.session_id);

-- Per failed run: how long until the same command next ended green in the same repository, if it did.
--
-- A failed run (failed = TRUE) goes green at the first later end of a passing run of the same
-- command (command_hash) in the same repository (in the same session, outside a repository).
-- time_to_green_s = seconds from the failed run's end to that end, if it came within the
-- outcome window (86400 s, or `SET VARIABLE outcome_window_seconds = 3600;`), else NULL.
-- never_green = TRUE when no green came within the window and the window has passed by
-- "now" (the store's last event, or `SET VARIABLE outcomes_now = <unix seconds>;`), FALSE
-- when it went green, NULL while its window is still open. green_id is the run that turned
-- it green. One ASOF join: no sort of every event by command.
CREATE OR REPLACE VIEW next_green AS
WITH runs AS (
    SELECT
        id, session_id, agent_id, author_kind, repo_id, command_hash, program, failed, ended_at,
        coalesce(repo_id, session_id) AS place,
        epoch(ended_at) AS t1
    FROM events
    WHERE failed IS NOT NULL
),
settings AS (
    SELECT
        CAST(coalesce(getvariable('outcome_window_seconds'), 86400) AS DOUBLE) AS window_s,
        CAST(coalesce(getvariable('outcomes_now'), (SELECT max(t1) FROM runs)) AS DOUBLE) AS now
)
SELECT
    f.id, f.session_id, f.agent_id, f.author_kind, f.repo_id, f.command_hash, f.program, f.ended_at,
    CASE WHEN g.t1 - f.t1 <= s.window_s THEN g.id END AS green_id,
    CASE WHEN g.t1 - f.t1 <= s.window_s THEN g.t1 - f.t1 END AS time_to_green_s,
    CASE
        WHEN g.t1 - f.t1 <= s.window_s THEN false
        WHEN s.now - f.t1 >= s.window_s THEN true
    END AS never_green
FROM (SELECT * FROM runs WHERE failed) AS f
ASOF LEFT JOIN (SELECT id, place, command_hash, t1 FROM runs WHERE NOT failed) AS g
    ON f.place = g.place AND f.command_hash = g.command_hash AND g.t1 > f.t1,
    settings AS s;

-- Per event, what followed it: time to green, retry loop and stuck, kept or abandoned, and outcome_label.
--
-- From later events of the same repository and session (the docs' "Outcome labels" page):
--   time_to_green_s, never_green   a failed run's, from next_green;
--   turned_green     a passing run that turned an earlier failure of its command green;
--   loop_runs, loop_position, loop_resolved
--                    the run's loop in retry_loops (same session, agent and command, each
--                    re-run within the retry window of a failure); loop_runs = 1 outside one;
--   stuck            in a loop whose last run failed;
--   changed          the command changed the working tree (delta_files > 0), HEAD known;
--   kept             that change reached a commit: HEAD moved (a later event of the
--                    repository has a head_hash other than the one before it) within the
--                    outcome window, before the tree went back to clean; FALSE when it was
--                    discarded or the window passed without a commit; NULL while the window
--                    is open, and for events that changed nothing;
--   abandoned        the change was discarded: the tree went clean (files_touched_count = 0)
--                    with HEAD unmoved (checkout, restore, reset --hard, stash) before any commit;
--   outcome_label    0-100 from the above, NULL while nothing is observable yet:
--       failed, green later     max(10, min(65, 65 - 10 ln(1 + time_to_green_s / 120)) - 5 (loop_position - 1))
--       failed, stuck loop      max(0, 20 - 5 (loop_position - 1))
--       failed, never green     20
--       passed                  70, or 85 if it turned_green; + 15 if kept, - 10 if not kept,
--                               - 40 if abandoned (at most 100)
--       exit unknown            85 if kept, 30 if abandoned
-- Windows and "now" as in next_green (outcome_window_seconds, outcomes_now) and retry_loops.
CREATE OR REPLACE VIEW outcomes AS
WITH settings AS (
    SELECT
        CAST(coalesce(getvariable('outcome_window_seconds'), 86400) AS DOUBLE) AS window_s,
        CAST(coalesce(getvariable('outcomes_now'), (SELECT max(epoch(ended_at)) FROM events)) AS DOUBLE) AS now
),
in_loop AS (
    SELECT
        e.id,
        l.runs AS loop_runs,
        l.resolved AS loop_resolved,
        row_number() OVER (
            PARTITION BY l.session_id, l.agent_id, l.command_hash, l.started_at ORDER BY e.started_at, e.id
        ) AS loop_position
    FROM events AS e
    JOIN retry_loops AS l
        ON e.session_id = l.session_id AND coalesce(e.agent_id, '') = coalesce(l.agent_id, '')
        AND e.command_hash = l.command_hash AND e.started_at BETWEEN l.started_at AND l.ended_at
),
greens AS MATERIALIZED (
    -- next_green once: its rows are joined to their failures and its green_ids mark the runs that turned green.
    SELECT id, time_to_green_s, never_green, green_id FROM next_green
),
repo_moves AS (
    SELECT
        id,
        min(CASE WHEN moved THEN t0 END) OVER later AS next_move_at,
        min(CASE WHEN files_touched_count = 0 AND NOT coalesce(moved, false) THEN t0 END) OVER later AS next_clean_at
    FROM (
        SELECT
            id, repo_id, started_at, files_touched_count,
            epoch(started_at) AS t0,
            head_hash <> lag(head_hash) OVER (PARTITION BY repo_id ORDER BY started_at, id) AS moved
        FROM events
        WHERE repo_id IS NOT NULL
    )
    WINDOW later AS (PARTITION BY repo_id ORDER BY started_at, id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
),
observed AS (
    SELECT
        e.id, e.session_id, e.agent_id, e.author_kind, e.repo_id, e.command_hash, e.program,
        e.started_at, e.ended_at, e.failed,
        g.time_to_green_s,
        g.never_green,
        e.id IN (SELECT green_id FROM greens) AND NOT e.failed AS turned_green,
        coalesce(l.loop_runs, 1) AS loop_runs,
        coalesce(l.loop_position, 1) AS loop_position,
        l.loop_resolved,
        coalesce(NOT l.loop_resolved, false) AS stuck,
        e.delta_files > 0 AND e.head_hash IS NOT NULL AS changed,
        epoch(e.ended_at) AS t1,
        m.next_move_at,
        m.next_clean_at
    FROM events AS e
    LEFT JOIN greens AS g ON g.id = e.id
    LEFT JOIN in_loop AS l ON l.id = e.id
    LEFT JOIN repo_moves AS m ON m.id = e.id
),
judged AS (
    SELECT
        o.* EXCLUDE (t1, next_move_at, next_clean_at),
        CASE
            WHEN NOT o.changed THEN NULL
            WHEN o.next_move_at - o.t1 <= s.window_s
                AND (o.next_clean_at IS NULL OR o.next_move_at < o.next_clean_at) THEN true
            WHEN o.next_clean_at - o.t1 <= s.window_s THEN false
            WHEN s.now - o.t1 >= s.window_s THEN false
        END AS kept,
        CASE
            WHEN NOT o.changed THEN NULL
            WHEN o.next_clean_at - o.t1 <= s.window_s
                AND (o.next_move_at IS NULL OR o.next_clean_at < o.next_move_at) THEN true
            WHEN o.next_move_at - o.t1 <= s.window_s THEN false
            WHEN s.now - o.t1 >= s.window_s THEN false
        END AS abandoned
    FROM observed AS o, settings AS s
)
SELECT
    *,
    round(CASE
        WHEN failed AND time_to_green_s IS NOT NULL THEN greatest(
            10.0, least(65.0, 65.0 - 10.0 * ln(1 + time_to_green_s / 120.0)) - 5.0 * (loop_position - 1)
        )
        WHEN failed AND never_green AND stuck THEN greatest(0.0, 20.0 - 5.0 * (loop_position - 1))
        WHEN failed AND never_green THEN 20.0
        WHEN failed THEN NULL
        WHEN NOT failed THEN least(100.0,
            CASE WHEN turned_green THEN 85.0 ELSE 70.0 END
            + CASE WHEN abandoned THEN -40.0 WHEN kept THEN 15.0 WHEN NOT kept THEN -10.0 ELSE 0.0 END)
        WHEN kept THEN 85.0
        WHEN abandoned THEN 30.0
    END, 2) AS outcome_label
FROM judged;

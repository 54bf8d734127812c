-- Per repository, command and author kind: how long a failing command took to go green, and how often it never did.
--
-- Over the failed runs of `next_green` whose outcome is known (green within the outcome
-- window, or the window passed): median and p90 of time_to_green_s over the runs that went
-- green, and share_never_green = the share that did not. Humans and agents on the same
-- repository and command are rows side by side (author_kind NULL: unknown).
CREATE OR REPLACE VIEW time_to_green AS
SELECT
    repo_id,
    command_hash,
    any_value(program) AS program,
    author_kind,
    count(*) AS failures,
    count(time_to_green_s) AS went_green,
    quantile_cont(time_to_green_s, 0.5) AS median_time_to_green_s,
    quantile_cont(time_to_green_s, 0.9) AS p90_time_to_green_s,
    count(*) FILTER (WHERE never_green) / count(*) AS share_never_green
FROM next_green
WHERE never_green IS NOT NULL
GROUP BY repo_id, command_hash, author_kind;

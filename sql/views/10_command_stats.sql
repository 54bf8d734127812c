-- Per command (keyed hash) and program: runs, failure rate, median/p95 duration, mean churn.
--
-- command = the command as people read it (events.command of its most recent run).
-- command_hash is its identity across keys (events.command_hash): after `devtrace key rotate`
-- or adopting an organisation's key, a command whose text is stored is still one row.
-- key_fingerprint = the key that hash is under (events.command_key): a command without text
-- recorded under two keys is two rows, and they say which key each belongs to.
-- mean_churn = mean of delta_lines_added + delta_lines_deleted (the lines a run changed)
-- over the runs where it is known.
CREATE OR REPLACE VIEW command_stats AS
SELECT
    arg_max(command, executed_at) AS command,
    command_hash,
    program,
    command_key AS key_fingerprint,
    count(*) AS runs,
    count(*) FILTER (WHERE failed) AS failures,
    count(*) FILTER (WHERE failed) / count(*) AS failure_rate,
    quantile_cont(duration_ms, 0.5) AS median_duration_ms,
    quantile_cont(duration_ms, 0.95) AS p95_duration_ms,
    avg(delta_lines_added + delta_lines_deleted) AS mean_churn,
    count(DISTINCT agent_id) AS agents,
    max(executed_at) AS last_run
FROM events
GROUP BY command_hash, program, command_key;

-- Per agent, how many commands took how long, on a log scale: quarter-decade bins of milliseconds.
--
-- log10_ms is the bin's lower edge (2.25: from 10^2.25 ≈ 178 ms); a duration under 1 ms counts as 1 ms.
CREATE OR REPLACE VIEW duration_histogram AS
SELECT
    agent_id,
    floor(log10(greatest(duration_ms, 1)) * 4) / 4 AS log10_ms,
    count(*) AS commands
FROM events
GROUP BY ALL;

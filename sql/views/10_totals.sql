-- The headline numbers in one row: commands, failures, failure rate, named agents, mean score.
--
-- agents counts distinct named agents (commands captured without one are not an agent); the
-- mean score is over the scored events, so each event weighs the same. No row without events.
CREATE OR REPLACE VIEW totals AS
SELECT
    count(*) AS commands,
    count(*) FILTER (WHERE failed) AS failures,
    count(*) FILTER (WHERE failed) / count(*) AS failure_rate,
    count(DISTINCT agent_id) AS agents,
    avg(predicted_productivity) AS mean_predicted_productivity
FROM events
HAVING count(*) > 0;

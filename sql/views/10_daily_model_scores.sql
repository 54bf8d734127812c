-- Per UTC day and model version: the events it scored and their mean predicted productivity.
--
-- model_ref is NULL for the events no model scored (scored = 0, mean NULL), so that every
-- event of the day is in one row.
CREATE OR REPLACE VIEW daily_model_scores AS
SELECT
    CAST(executed_at AS DATE) AS day,
    model_ref,
    count(*) AS events,
    count(predicted_productivity) AS scored,
    avg(predicted_productivity) AS mean_predicted_productivity
FROM events
GROUP BY ALL;

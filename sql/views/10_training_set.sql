-- Every event with its training label: latest human label, else latest pseudo label, else its own score.
--
-- productivity_label = the latest human label if any, else the latest 'pseudo' row of the
-- labels table, else the event's predicted_productivity. label_source is the source of the
-- label row used ('human' or 'pseudo'), NULL when none was (the score itself, or nothing).
CREATE OR REPLACE VIEW training_set AS
WITH latest_pseudo_label AS (
    SELECT event_id, value
    FROM store.labels
    WHERE source = 'pseudo'
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY created_at DESC, id DESC) = 1
)
SELECT
    e.*,
    coalesce(e.human_label, p.value, e.predicted_productivity) AS productivity_label,
    CASE
        WHEN e.human_label IS NOT NULL THEN 'human'
        WHEN p.value IS NOT NULL THEN 'pseudo'
    END AS label_source
FROM events AS e
LEFT JOIN latest_pseudo_label AS p ON p.event_id = e.id;

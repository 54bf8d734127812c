-- Every event with its training label: latest human label, else its outcome label, else latest pseudo label, else its own score.
--
-- productivity_label = the latest human label if any, else the event's outcome_label (the
-- outcomes view: what followed it), else the latest 'pseudo' row of the labels table, else
-- the event's predicted_productivity. label_source says which: 'human', 'outcome',
-- 'pseudo', or NULL (the score itself, or nothing). Outcome labels are never rows of the
-- labels table: a human label always wins over one, whenever either was made.
CREATE OR REPLACE VIEW training_set AS
WITH latest_pseudo_label AS (
    -- a label names its event by (event_machine, event_id): event_machine is NULL locally
    SELECT event_machine, event_id, value
    FROM (FROM store.labels UNION ALL BY NAME SELECT CAST(NULL AS VARCHAR) AS event_machine WHERE false)
    WHERE source = 'pseudo'
    QUALIFY row_number() OVER (PARTITION BY event_machine, event_id ORDER BY created_at DESC, id DESC) = 1
)
SELECT
    e.*,
    o.outcome_label,
    coalesce(e.human_label, o.outcome_label, p.value, e.predicted_productivity) AS productivity_label,
    CASE
        WHEN e.human_label IS NOT NULL THEN 'human'
        WHEN o.outcome_label IS NOT NULL THEN 'outcome'
        WHEN p.value IS NOT NULL THEN 'pseudo'
    END AS label_source
FROM events AS e
LEFT JOIN (SELECT id, outcome_label FROM outcomes) AS o ON o.id = e.id
LEFT JOIN latest_pseudo_label AS p ON p.event_id = e.id AND p.event_machine IS NOT DISTINCT FROM e.machine;

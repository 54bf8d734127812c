-- One typed row per captured event: capture columns, model score, latest human label.
--
-- Timestamps are UTC TIMESTAMPs. Git columns (files_touched_count, lines_*, delta_*) are NULL
-- where the state was unknown (not a git repo): unknown, not zero. `failed` = non-zero exit
-- (a timeout exits 124, so it is a failure too). Every view in this folder reads the SQLite
-- store attached as `store`:  ATTACH '<path>/devtrace.db' AS store (TYPE sqlite, READ_ONLY);
-- Every column of store.command_events is kept (e.*), so the central store's extra columns
-- (machine, received_at; see sql/central/) come through as more columns.
CREATE OR REPLACE VIEW events AS
WITH latest_human_label AS (
    SELECT event_id, value, labeled_by, note, created_at
    FROM store.labels
    WHERE source = 'human'
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY created_at DESC, id DESC) = 1
)
SELECT
    e.* REPLACE (
        make_timestamp(CAST(e.executed_at * 1e6 AS BIGINT)) AS executed_at,
        e.timed_out <> 0 AS timed_out,
        make_timestamp(CAST(e.started_at * 1e6 AS BIGINT)) AS started_at,
        make_timestamp(CAST(e.ended_at * 1e6 AS BIGINT)) AS ended_at,
        make_timestamp(CAST(e.scored_at * 1e6 AS BIGINT)) AS scored_at
    ),
    e.exit_code <> 0 AS failed,
    l.value AS human_label,
    l.labeled_by AS human_label_by,
    make_timestamp(CAST(l.created_at * 1e6 AS BIGINT)) AS human_label_at,
    l.note AS human_label_note
FROM store.command_events AS e
LEFT JOIN latest_human_label AS l ON l.event_id = e.id;

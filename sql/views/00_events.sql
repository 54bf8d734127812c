-- One typed row per captured event: capture columns, model score, latest human label.
--
-- Timestamps are UTC TIMESTAMPs. Git columns (files_touched_count, lines_*, delta_*) are NULL
-- where the state was unknown (not a git repo): unknown, not zero. `failed` = non-zero exit
-- or a timeout; NULL where an agent does not say (e.g. Codex run without a transcript). `author_kind`
-- (human/agent), `captured_by` (run, a shell, an agent) and `duration_approximate` (timed by
-- a Pre/Post hook pair) come from the hooks. Every view in this folder reads the SQLite
-- store attached as `store`:  ATTACH '<path>/devtrace.db' AS store (TYPE sqlite, READ_ONLY);
-- `events_of` is this definition over any two relations shaped like store.command_events and
-- store.labels, named by strings: `devtrace events` applies it to the newest rows only.
-- Every column of store.command_events is kept (e.*), so the central store's extra columns
-- (machine, received_at; see sql/central/) come through as more columns; except the local
-- store's command_text, which becomes `command`: what a person reads to know the command,
-- its redacted text where the store keeps it, else its program and the first 8 characters
-- of its hash (`pytest [1a2b3c4d]`). A central store has no text: there `command` is always
-- the second form.
-- `line_count` (local only, NULL centrally): the lines of a shell's line that ran as this
-- one event where more than one, as zsh and fish run a bracketed paste: the event's hash
-- is the whole text's, its exit code the last command's, and it names no program.
-- command_hash is the command's identity across keys: where the store re-hashed the command's
-- text with a newer key (`devtrace key rotate`, `devtrace sync login`: store.command_identity),
-- the hash under that key, else the hash as recorded (`recorded_command_hash`). `command_key`
-- is the fingerprint of the key command_hash is under; key_fingerprint stays the key the
-- event was recorded with (that of its repo_id and recorded_session_id). session_id likewise
-- goes through store.session_identity: a terminal open across a key change is one session.
-- A central store keeps every hash and id as recorded.
-- An event's identity is (machine, id): `machine` is NULL in a local store, and
-- a label names its event by (event_machine, event_id), event_machine NULL locally too.
CREATE OR REPLACE MACRO events_of(command_events, labels) AS TABLE
WITH stored AS (
    -- The text and line_count columns exist on a local store only, machine on a central one:
    -- an empty row set gives all three to every store.
    FROM query_table(command_events)
    UNION ALL BY NAME
    SELECT CAST(NULL AS VARCHAR) AS command_text, CAST(NULL AS VARCHAR) AS machine,
        CAST(NULL AS BIGINT) AS line_count WHERE false
),
latest_human_label AS (
    SELECT event_machine, event_id, value, labeled_by, note, created_at
    FROM (FROM query_table(labels) UNION ALL BY NAME SELECT CAST(NULL AS VARCHAR) AS event_machine WHERE false)
    WHERE source = 'human'
    QUALIFY row_number() OVER (PARTITION BY event_machine, event_id ORDER BY created_at DESC, id DESC) = 1
)
SELECT
    e.* EXCLUDE (command_text) REPLACE (
        coalesce(i.current_hash, e.command_hash) AS command_hash,
        coalesce(s.current_session_id, e.session_id) AS session_id,
        make_timestamp(CAST(e.executed_at * 1e6 AS BIGINT)) AS executed_at,
        e.timed_out <> 0 AS timed_out,
        make_timestamp(CAST(e.started_at * 1e6 AS BIGINT)) AS started_at,
        make_timestamp(CAST(e.ended_at * 1e6 AS BIGINT)) AS ended_at,
        make_timestamp(CAST(e.scored_at * 1e6 AS BIGINT)) AS scored_at,
        e.duration_approximate <> 0 AS duration_approximate
    ),
    coalesce(e.command_text, coalesce(e.program, '?') || ' [' || left(coalesce(i.current_hash, e.command_hash), 8) || ']')
        AS command,
    e.command_hash AS recorded_command_hash,
    e.session_id AS recorded_session_id,
    coalesce(i.key_fingerprint, e.key_fingerprint) AS command_key,
    e.exit_code <> 0 OR e.timed_out <> 0 AS failed,
    l.value AS human_label,
    l.labeled_by AS human_label_by,
    make_timestamp(CAST(l.created_at * 1e6 AS BIGINT)) AS human_label_at,
    l.note AS human_label_note
FROM stored AS e
LEFT JOIN store.command_identity AS i ON i.command_hash = e.command_hash
LEFT JOIN store.session_identity AS s ON s.session_id = e.session_id
LEFT JOIN latest_human_label AS l ON l.event_id = e.id AND l.event_machine IS NOT DISTINCT FROM e.machine;

CREATE OR REPLACE VIEW events AS
FROM events_of('store.command_events', 'store.labels');

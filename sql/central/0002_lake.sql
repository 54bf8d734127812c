-- The lake's tables in the central database (issue 13). The lake itself (events, labels and
-- the flush watermark) lives in DuckLake; these stay in the ingestion database.

-- Scores computed centrally (`devtrace ml score --central`), waiting for the flush to write
-- them into the lake. Append-only; the latest row of an event counts.
CREATE TABLE event_scores (
    seq @SERIAL@,
    event_id TEXT NOT NULL,
    predicted_productivity DOUBLE PRECISION NOT NULL,
    top_contribution_feature TEXT,
    top_contribution_value DOUBLE PRECISION,
    model_ref TEXT NOT NULL,
    scored_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX event_scores_event ON event_scores (event_id);

-- Who removed what and when: retention and erasure, from the CLI or the admin API.
CREATE TABLE audit_log (
    id @SERIAL@,
    action TEXT NOT NULL CHECK (action IN ('erase', 'retention')),
    target TEXT NOT NULL,                 -- the machine erased, or the retention cut-off day
    actor TEXT NOT NULL,                  -- the admin token's name, or the OS user of the CLI
    at DOUBLE PRECISION NOT NULL,
    events BIGINT NOT NULL,               -- events removed (ingestion tables and lake together)
    labels BIGINT NOT NULL
);

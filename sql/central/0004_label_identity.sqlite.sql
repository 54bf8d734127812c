-- A label's identity includes the machine that pushed it (issue 23): `client_label_id` is a
-- local store's label id (1, 2, ...), so without the machine another machine could claim a
-- label's identity first and the real one would come back a "duplicate". SQLite cannot drop
-- a UNIQUE constraint: the table is rebuilt, same columns, same ids (AUTOINCREMENT carries on).
CREATE TABLE labels_v3 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    client_label_id BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL CHECK (value >= 0 AND value <= 100),
    source TEXT NOT NULL CHECK (source IN ('human', 'pseudo')),
    labeled_by TEXT,                      -- who the client says labeled it (the token is `machine`)
    note TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    machine TEXT NOT NULL,                -- the name of the token that pushed it
    received_at DOUBLE PRECISION NOT NULL,
    UNIQUE (machine, event_id, client_label_id)
);

INSERT INTO labels_v3 (id, event_id, client_label_id, value, source, labeled_by, note, created_at, machine, received_at)
SELECT id, event_id, client_label_id, value, source, labeled_by, note, created_at, machine, received_at FROM labels;

-- ids are never reused, even those of rows deleted since (the lake's watermark is past them)
DELETE FROM sqlite_sequence WHERE name = 'labels_v3';

INSERT INTO sqlite_sequence (name, seq) SELECT 'labels_v3', seq FROM sqlite_sequence WHERE name = 'labels';

DROP TABLE labels;

ALTER TABLE labels_v3 RENAME TO labels;

CREATE INDEX labels_event ON labels (event_id, created_at);

-- Cut-offs left by retention and erasure (issue 23): an event executed before its machine's
-- cut-off (or before the cut-off of every machine, machine '*') is refused at ingestion, so
-- what was removed does not come back with a later push. A cut-off only moves forward.
CREATE TABLE retention_cutoffs (
    machine TEXT PRIMARY KEY,             -- a token name, or '*' for every machine (retention)
    before_at DOUBLE PRECISION NOT NULL,  -- unix seconds: events executed before are refused
    set_by TEXT NOT NULL,                 -- 'retention' or 'erase', and who
    set_at DOUBLE PRECISION NOT NULL
);

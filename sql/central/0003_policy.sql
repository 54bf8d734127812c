-- The organisation's policy for its machines, handed out at enrollment and on each push.
-- One row per setting; today only command_text ('redacted' or 'off': with 'off', every
-- enrolled machine stops keeping command text and purges what it kept).
CREATE TABLE policy (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    set_at DOUBLE PRECISION NOT NULL
);

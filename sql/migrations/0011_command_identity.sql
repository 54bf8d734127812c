-- One identity across keys (issue 21). A command's hash depends on the key: after `devtrace key
-- rotate` or `devtrace sync login` (the organisation's key) the same command hashes differently.
-- At each such change DevTrace re-hashes the stored text of the events recorded under an older
-- key with the key commands are hashed with now (devtrace/capture/rekey.py), and keeps here
-- which recorded hash is which current one. The `events` view reads command_hash through this
-- table, so every view sees one command; the events themselves stay as recorded (append-only,
-- and already synced as they are). A hash with no row here keeps its own key's identity (no
-- text to re-hash: text off, forgotten, redacted or cut), and the views say which key that is.
-- Derived, local only: rewritten at each key change, never synced.
CREATE TABLE command_identity (
    command_hash TEXT PRIMARY KEY,      -- a hash as events recorded it, under an older key
    current_hash TEXT NOT NULL,         -- the same command's hash under the key below
    key_fingerprint TEXT NOT NULL,      -- the key current_hash was made with (identity.key_fingerprint)
    mapped_at REAL NOT NULL             -- unix seconds
);

-- The same for sessions, where DevTrace can know what was hashed: at a key change, each live
-- shell with the hook loaded (its token is in shells.json) and the terminal that made the
-- change map their session id under the old key to the one under the new key, so a terminal
-- open across the change stays one session. The `events` view reads session_id through it.
CREATE TABLE session_identity (
    session_id TEXT PRIMARY KEY,        -- a session id as events recorded it, under an older key
    current_session_id TEXT NOT NULL,   -- the same session's id under the key below
    key_fingerprint TEXT NOT NULL,
    mapped_at REAL NOT NULL
);

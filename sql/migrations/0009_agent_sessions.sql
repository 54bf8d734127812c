-- What agent transcripts say beyond their commands (devtrace import claude-code|codex|gemini):
-- per agent session and model, the time span, turns (the user's prompts), model requests and
-- tokens in four disjoint kinds (input not from a cache, output with reasoning, cache reads,
-- cache writes). A re-import replaces a session's rows with what its transcript says now.
CREATE TABLE agent_session_usage (
    agent TEXT NOT NULL,
    session_id TEXT NOT NULL,
    model TEXT NOT NULL,                     -- '' where the transcript names none
    started_at REAL,                         -- unix seconds: the session's first and last entry
    ended_at REAL,
    turns INTEGER,                           -- the session's, on each of its rows (as tool_calls)
    tool_calls INTEGER,                      -- every tool the agent called, shell or not
    requests INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    imported_at REAL NOT NULL,
    PRIMARY KEY (agent, session_id, model)
);

-- The price table in force at the last import: DevTrace's shipped one (sql/prices.toml) with
-- the store's config.toml [prices] over it. US dollars per million tokens.
CREATE TABLE agent_prices (
    model TEXT PRIMARY KEY,
    input REAL NOT NULL,
    output REAL NOT NULL,
    cache_read REAL NOT NULL,
    cache_write REAL NOT NULL,
    price_date TEXT NOT NULL,                -- the date the prices were read from the vendor, or 'config'
    source TEXT NOT NULL                     -- 'shipped' or 'config'
);

-- What each agent session cost (issue 25): the local store's agent_session_usage rows, pushed
-- by `devtrace sync` like events (no prompt text, no command text: agent, the agent's session
-- id, model, time span, counts and tokens). A session's row is updated as the session goes on
-- (its tokens grow with every import of its transcript): a row is identified by (machine,
-- agent, session_id, model) and a push replaces it when the machine read it later
-- (`imported_at`), so a late or repeated push of an older reading changes nothing.
-- Kept in the ingestion database only (one row per session and model, updated in place): the
-- lake is append-only and holds events and labels.
CREATE TABLE agent_session_usage (
    machine TEXT NOT NULL,                   -- the name of the token that pushed it
    agent TEXT NOT NULL,
    session_id TEXT NOT NULL,
    model TEXT NOT NULL,                     -- '' where the transcript names none
    started_at DOUBLE PRECISION,
    ended_at DOUBLE PRECISION,
    turns BIGINT,
    tool_calls BIGINT,
    requests BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    imported_at DOUBLE PRECISION NOT NULL,   -- when the machine read the transcript (its clock)
    received_at DOUBLE PRECISION NOT NULL,   -- the server's clock at the last accepted push
    UNIQUE (machine, agent, session_id, model)
);

CREATE INDEX agent_session_usage_session ON agent_session_usage (agent, session_id);

"""The central service: server, tokens, ingestion databases, central models; the lake under it (central/lake)."""

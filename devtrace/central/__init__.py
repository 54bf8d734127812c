"""The central service: server, tokens, ingestion databases, sync client, central models."""

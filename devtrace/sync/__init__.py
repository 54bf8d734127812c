"""The laptop side of the team loop: the store's config, the HTTP client, enrollment and push,
the background push (sync = "auto"), publishing and pulling models. Nothing here imports the
server (devtrace.central)."""

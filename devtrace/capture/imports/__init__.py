"""`devtrace import`: shell histories and agent transcripts read into the store, exactly once,
through the same event-building code live capture uses (devtrace.capture.recorder)."""

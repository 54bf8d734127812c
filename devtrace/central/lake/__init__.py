"""The DuckLake tier under the central service, writer side: the one flush, maintenance,
retention and erasure, their admin routes and the jobs that run them in a process of their
own. How a lake is read: devtrace.analytics.lake_reader."""

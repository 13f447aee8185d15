"""Foundation tests: ingest area."""

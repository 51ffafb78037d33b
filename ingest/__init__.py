"""ringmap.ingest."""

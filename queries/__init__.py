"""ringmap.queries."""

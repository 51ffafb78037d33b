"""ringmap.viz."""

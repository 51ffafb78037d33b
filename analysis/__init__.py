"""ringmap.analysis."""

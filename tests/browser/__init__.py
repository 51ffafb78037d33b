"""Helpers for the map and export tests: a hand-made case and a locked-down headless Chromium."""

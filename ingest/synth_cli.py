"""CLI commands of ringmap.ingest.synth_cli."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

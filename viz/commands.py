"""CLI commands of ringmap.viz."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

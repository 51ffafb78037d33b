"""CLI commands of ringmap.queries."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

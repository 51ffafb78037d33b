"""``ringmap run``: ingest a case folder, analyse it and write the results."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

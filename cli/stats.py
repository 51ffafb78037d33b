"""CLI commands of ringmap.graphs: what is in the case."""

from __future__ import annotations

import click

from ringmap.cli.session import Session, emit, format_option, pass_session, store_options
from ringmap.graphs.stats import count_rows, file_rows
from ringmap.tabular import Format


@click.command()
@store_options
@format_option()
@click.option("--files/--no-files", default=True, show_default=True,
              help="Also list the ingested files and their row accounting.")
@pass_session
def stats(session: Session, fmt: Format, files: bool) -> None:
    """Counts per entity and relationship type, and the ingest runs.

    Example: ringmap stats --store case.db
    """
    store = session.store()
    counts = count_rows(store)
    emit(counts, fmt)
    loads = file_rows(store) if files else []
    if loads:
        click.echo()
        emit(loads, fmt)
    session.audit("stats", counts={"types": len(counts), "files": len(loads)})


COMMANDS: list[click.Command] = [stats]

"""CLI commands of ringmap.graphs: what is in the case."""

from __future__ import annotations

import click

from ringmap.cli.session import (
    Session,
    emit_sections,
    format_option,
    pass_session,
    store_options,
)
from ringmap.graphs.stats import count_rows, file_rows
from ringmap.tabular import Format


@click.command()
@store_options
@format_option()
@click.option("--files/--no-files", default=True, show_default=True,
              help="Also list the ingested files and their row accounting.")
@pass_session
def stats(session: Session, fmt: Format, files: bool) -> None:
    """Counts per entity and relationship type, and every ingested file's row accounting.

    One document per format: JSON an object with ``counts`` and ``files``; CSV one table
    whose ``section`` column says which rows are counts and which files (without --files,
    the counts alone); a table each under its title.

    Example: ringmap stats --store case.db --format json
    """
    store = session.store()
    sections = {"counts": count_rows(store)}
    if files:
        sections["files"] = file_rows(store)
    emit_sections(sections, fmt)
    session.audit("stats", counts={"types": len(sections["counts"]),
                                   "files": len(sections.get("files", []))})


COMMANDS: list[click.Command] = [stats]

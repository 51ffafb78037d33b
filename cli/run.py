"""``ringmap run``: the whole job on a case folder (see :mod:`ringmap.pipeline`)."""

from __future__ import annotations

from pathlib import Path

import click

from ringmap.analysis.cells import CellSettings
from ringmap.analysis.gds import Engine, choose_engine
from ringmap.analysis.report import CELL_COLUMNS
from ringmap.cli.session import (
    Session,
    bulk_option,
    emit,
    engine_option,
    format_option,
    pass_session,
    store_options,
    terminal_progress,
    wait_option,
    waiting,
)
from ringmap.errors import InputError
from ringmap.ingest.case import load_case
from ringmap.ingest.run import check_files
from ringmap.pipeline import run_case
from ringmap.tabular import Format

__all__ = ["COMMANDS", "run"]


@click.command("run")
@click.argument("case_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the summary, cells, maps (and the case file by default).")
@store_options
@click.option("--method", type=click.Choice(["leiden", "louvain", "lpa"]), default="leiden",
              show_default=True, help="Community detection method.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--maps/--no-maps", default=True, show_default=True, help="Write the maps.")
@click.option("--packages/--no-packages", default=False, show_default=True,
              help="Also write a raid package per cell (victims pseudonymised).")
@wait_option
@bulk_option
@engine_option
@format_option()
@pass_session
def run(session: Session, case_dir: Path, out: Path, method: str, seed: int, maps: bool,
        packages: bool, wait: bool, bulk: bool | None, engine: Engine | None, fmt: Format
        ) -> None:
    """Run the whole job on CASE_DIR: ingest every table, detect cells, write maps and a
    summary into OUT.

    Without --store or --neo4j the case file is OUT/ringmap.db. Running again on the same
    case ingests nothing new and adds a new cell run. A table of which every row is rejected
    does not stop the run, but the command then fails (exit 1) naming it. A new case goes
    into an empty Neo4j database through Neo4j's bulk importer (--bulk, or by itself from
    16 MiB of evidence).

    Example: ringmap run examples/strikeback --out out/
    """
    session.default_path = out / "ringmap.db"
    settings = CellSettings.model_validate({"method": method, "seed": seed})
    tables = check_files(load_case(case_dir))  # a bad case leaves no empty case file behind
    session.refuse_bulk_here(bulk)
    if not session.uses_neo4j:  # --engine gds refused before the case file exists
        choose_engine(engine, settings.method, gds=None)
    with session.audited("run") as counts:
        store = session.store(create=True)
        with store.writing("run", wait=wait, on_wait=waiting):
            summary = run_case(store, case_dir, out, settings=settings, maps=maps,
                               packages=packages, progress=terminal_progress(), tables=tables,
                               bulk=bulk, engine=engine)
        counts.update({**summary.ingest.totals(), "cells": len(summary.cells)})
    emit(summary.cells + summary.unassigned_agents, fmt, CELL_COLUMNS)
    totals = summary.ingest.totals()
    click.echo(f"{totals['read']} rows read, {totals['loaded']} loaded, {totals['duplicate']} "
               f"duplicate, {totals['rejected']} rejected; "
               f"{len(summary.cells)} cells -> {out}/summary.md", err=True)
    if summary.cells_note:
        click.echo(f"no cells: {summary.cells_note}", err=True)
    rejected = summary.ingest.rejected_whole()
    if rejected:  # the rest of the case is worth having; the exit code still tells
        raise InputError(f"{rejected}; the rest of the run completed: see {out}/summary.md")


COMMANDS: list[click.Command] = [run]

"""CLI commands of ringmap.ingest: ``ringmap ingest``."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import ValidationError

from ringmap.cli.session import (
    Session,
    bulk_option,
    emit,
    format_option,
    pass_session,
    store_options,
    terminal_progress,
    wait_option,
    waiting,
)
from ringmap.errors import ConfigError, InputError
from ringmap.fileio import input_file
from ringmap.graphs.ftm import ftm_model
from ringmap.graphs.model import Grading
from ringmap.ingest.ftm import FtmFormat
from ringmap.ingest.readers import load_mapping_for
from ringmap.ingest.run import DEFAULT_BATCH_SIZE, IngestTask, Reading, check_files, ingest_files
from ringmap.tabular import Format

__all__ = ["COMMANDS", "ingest"]


def _quarantine_dir(session: Session) -> Path:
    """``quarantine/`` beside the embedded case file, or in the working folder for Neo4j."""
    case_file = session.choice.path
    return Path("quarantine") if case_file is None else case_file.parent / "quarantine"


def _ftm_format(region: str | None) -> FtmFormat:
    ftm_model()  # one line naming the extra, before any file is read
    try:
        return FtmFormat(default_region=region)
    except ValidationError as exc:
        raise ConfigError(f"--region: {exc.errors()[0]['msg'].removeprefix('Value error, ')}"
                          ) from None


def _grading(text: str | None) -> Grading | None:
    if text is None:
        return None
    try:
        return Grading.parse(text)
    except ValueError as exc:
        raise ConfigError(f"--grading: {exc}") from None


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", "-m", "mapping_path", metavar="MAP",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Mapping file (YAML) saying how rows become entities.")
@click.option("--ftm", is_flag=True,
              help="FILES are FollowTheMoney entities (JSON lines, as Aleph exports them); "
                   "no mapping. Needs ringmap[ftm].")
@click.option("--region", metavar="CC",
              help="With --ftm: the region national phone numbers are read in [default: PH].")
@click.option("--grading", metavar="GRADE",
              help="Source grading for these files, overriding the mapping's "
                   "(B2, admiralty:B2, uk_3x5x2:1A).")
@click.option("--quarantine", "quarantine", metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for rejected rows [default: quarantine/ beside the case file].")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE,
              show_default=True, help="Rows per batch handed to the store.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar [default: when stderr is a terminal].")
@wait_option
@bulk_option
@store_options
@format_option()
@pass_session
def ingest(
    session: Session,
    files: tuple[Path, ...],
    mapping_path: Path | None,
    ftm: bool,
    region: str | None,
    grading: str | None,
    quarantine: Path | None,
    batch_size: int,
    progress: bool | None,
    wait: bool,
    bulk: bool | None,
    fmt: Format,
) -> None:
    """Load evidence FILES (CSV, XLSX, JSON lines) into the case with a mapping, or
    FollowTheMoney entities with --ftm.

    Each file is checked first (encoding, mapped columns); nothing is written if one fails.
    FtM entities keep their FtM id as the reference of their provenance; entities of schemata
    ringmap has no counterpart for are skipped and counted (docs/ftm.md).
    One ingest writes to a case at a time: another is refused, or waits with --wait.
    Rows that cannot be loaded go to a quarantine CSV with the reason; ingesting the same file
    with the same mapping again changes nothing. A file of which every row is rejected has
    status "rejected" and makes the command fail (exit 1) once the other files are loaded.
    A new case goes into an empty Neo4j database through Neo4j's bulk importer (--bulk, or
    by itself from 16 MiB of evidence), which restarts the tools/neo4j-dev server.

    Example: ringmap ingest remittances.csv --mapping mappings/remittances.yaml --grading B2
    """
    override = _grading(grading)
    reading: Reading
    if ftm == (mapping_path is not None):
        raise ConfigError("give --mapping MAP for tables, or --ftm for FollowTheMoney entities")
    if mapping_path is None:
        reading = _ftm_format(region)
    elif region is not None:
        raise ConfigError("--region is for --ftm; a mapping sets source.default_region")
    else:
        input_file(mapping_path)  # never the key file or /proc: mapping errors quote their keys
        reading = load_mapping_for(mapping_path, files[0])
    checked = check_files([IngestTask(f, reading, override) for f in files])
    session.refuse_bulk_here(bulk)
    with session.audited("ingest") as audited:
        store = session.store(create=True)
        with store.writing("ingest", wait=wait, on_wait=waiting):
            report = ingest_files(
                store,
                checked,
                quarantine_dir=quarantine or _quarantine_dir(session),
                batch_size=batch_size,
                progress=terminal_progress(progress),
                bulk=bulk,
            )
        audited.update(report.totals())
    emit(report.rows(), fmt)
    for row in report.files:
        if row.status == "already ingested":
            click.echo(f"{row.file} was already ingested with this mapping; nothing changed",
                       err=True)
            continue
        if row.rejected and row.status != "rejected":
            click.echo(f"{row.rejected} row(s) of {row.file} rejected; see {row.quarantine}",
                       err=True)
        if row.skipped:
            per_entity = ", ".join(f"{label} {sum(reasons.values())}"
                                   for label, reasons in row.skipped.items())
            click.echo(f"{row.skipped_total} optional value(s) of {row.file} skipped "
                       f"({per_entity}); "
                       f"see {row.skip_log}", err=True)
    rejected = report.rejected_whole()
    if rejected:
        raise InputError(rejected)


COMMANDS: list[click.Command] = [ingest]

"""CLI commands of ringmap.viz: ``map``, ``export`` and ``verify``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from ringmap import audit
from ringmap.cli.session import Session, pass_session, store_options, window_options
from ringmap.errors import ExportError
from ringmap.graphs.ftm import ftm_model
from ringmap.privacy import require_reason
from ringmap.signing import expected_fingerprint
from ringmap.viz.aggregate import DEFAULT_BUDGET
from ringmap.viz.ftm import export_ftm
from ringmap.viz.graphexport import GRAPH_FORMATS, export_graph
from ringmap.viz.maps import (
    DEFAULT_HOPS,
    MapResult,
    write_cell_map,
    write_entity_map,
    write_victim_map,
)
from ringmap.viz.package import export_cell, export_cells, verify_package
from ringmap.viz.timeline import timeline_of, write_timeline

F = TypeVar("F", bound=Callable[..., Any])

_HTML_OUT = click.Path(dir_okay=False, writable=True, path_type=Path)
_DIR_OUT = click.Path(file_okay=False, writable=True, path_type=Path)


def _victim_options(func: F) -> F:
    """``--include-victim-details`` with the ``--reason`` it requires."""
    func = click.option("--reason", metavar="TEXT",
                        help="Why victims' details are needed; recorded in the audit log.")(func)
    return click.option("--include-victim-details", "reveal", is_flag=True,
                        help="Show victims' identities instead of pseudonyms "
                             "(needs --reason).")(func)


def _budget_option(func: F) -> F:
    return click.option("--budget", type=click.IntRange(min=1), default=DEFAULT_BUDGET,
                        show_default=True, metavar="N",
                        help="Most nodes drawn one by one; above it the map is aggregated.")(func)


def _said(kind: str, result: MapResult) -> None:
    how = " (aggregated)" if result.aggregated else ""
    click.echo(f"Wrote {kind} map{how}: {result.nodes} nodes, {result.edges} edges "
               f"to {result.path}")


@click.group("map")
def map_group() -> None:
    """Draw interactive, offline HTML maps of the case.

    Example: ringmap map cells -o cells.html
    """


@map_group.command("cells")
@store_options
@click.option("-o", "--out", type=_HTML_OUT, required=True, help="HTML file to write.")
@click.option("--cell", "cells", multiple=True, metavar="ID",
              help="Draw this cell in detail (repeatable); default an overview of every cell.")
@click.option("--detailed", is_flag=True,
              help="Draw every cell in detail instead of the overview.")
@_budget_option
@_victim_options
@pass_session
def map_cells(session: Session, out: Path, cells: tuple[str, ...], detailed: bool, budget: int,
              reveal: bool, reason: str | None) -> None:
    """The cells of the latest run: an overview, or the cells named by --cell in detail.

    The overview draws each cell as a group with its cell id: its agents, the identifiers
    tying two or more of them or bridging cells, and shared infrastructure once, apart.
    Above 40 cells it is drawn per raid city: one node per city for its cells, lines
    between cities whose cells share identifiers, and a search box that finds any cell id.
    In detail every account, identifier and raid site of a cell is drawn, with the evidence
    behind each edge.

    Example: ringmap map cells -o cells.html --cell C001
    """
    require_reason(reveal, reason)
    with session.audited("map cells", reason=reason) as counts:
        result = write_cell_map(session.store(), out, cells=list(cells) or None,
                                detailed=detailed, budget=budget, reveal=reveal)
        counts.update(result.counts())
    _said("cell", result)


@map_group.command("victims")
@store_options
@click.option("-o", "--out", type=_HTML_OUT, required=True, help="HTML file to write.")
@window_options
@pass_session
def map_victims(session: Session, out: Path, from_day: datetime | None,
                to_day: datetime | None) -> None:
    """Victims across countries on an offline world map: countries shaded by victims, raid
    sites, arcs from cells to countries weighted by victims or money, victims of unknown
    country counted. With --from/--to the map's time filter opens on that window.

    Example: ringmap map victims -o victims.html --from 2014-01-01 --to 2014-03-31
    """
    window = (from_day.date() if from_day else None, to_day.date() if to_day else None)
    with session.audited("map victims") as counts:
        result = write_victim_map(session.store(), out, active=window)
        counts.update(result.counts())
    _said("victims", result)


@map_group.command("timeline")
@store_options
@click.option("-o", "--out", type=_HTML_OUT, required=True,
              help="Picture to write: .svg or .png.")
@click.option("--cell", metavar="ID", help="Only this cell of the latest cell run.")
@pass_session
def map_timeline(session: Session, out: Path, cell: str | None) -> None:
    """Contacts, payments (USD), reports and arrests per week, for the case or one cell,
    as a static picture (SVG or PNG).

    Example: ringmap map timeline -o C001.svg --cell C001
    """
    with session.audited("map timeline") as counts:
        line = timeline_of(session.store(), cell)
        write_timeline(line, out)
        counts.update({"events": len(line.events)})
    click.echo(f"Wrote the timeline ({line.title}): {len(line.events)} dated events to {out}")


@map_group.command("entity")
@store_options
@click.argument("key")
@click.option("-o", "--out", type=_HTML_OUT, required=True, help="HTML file to write.")
@click.option("--hops", type=click.IntRange(min=1, max=6), default=DEFAULT_HOPS,
              show_default=True, help="How many relationships deep.")
@_budget_option
@_victim_options
@pass_session
def map_entity(session: Session, key: str, out: Path, hops: int, budget: int, reveal: bool,
               reason: str | None) -> None:
    """The neighbourhood of one entity: a node id, type:value or a bare identifier.

    Example: ringmap map entity "phone:0917 522 9793" -o phone.html --hops 2
    """
    require_reason(reveal, reason)
    with session.audited("map entity", reason=reason) as counts:
        result = write_entity_map(session.store(), key, out, hops=hops, budget=budget,
                                  reveal=reveal)
        counts.update(result.counts())
    _said("entity", result)


@click.group("export")
def export_group() -> None:
    """Export raid packages and the graph for partner agencies and other tools.

    Example: ringmap export cells --out packages/
    """


@export_group.command("cell")
@store_options
@click.argument("cell_id", metavar="ID")
@click.option("--out", type=_DIR_OUT, required=True, help="Package folder to create.")
@_victim_options
@pass_session
def export_cell_command(session: Session, cell_id: str, out: Path, reveal: bool,
                        reason: str | None) -> None:
    """The raid package of one cell: printable brief (arrest, seize, freeze per raid site),
    map, rosters, summary and a manifest signed with the signing key (RINGMAP_SIGNING_KEY or
    signing.key beside the hashing key file).

    Example: ringmap export cell C001 --out raid-C001/
    """
    with session.audited("export", reason=reason) as counts:
        result = export_cell(session.store(), cell_id, out, reveal=reveal, reason=reason)
        counts.update({"cell": result.cell_id, **result.rows, "signed_by": result.signed_by})
    click.echo(f"Wrote the raid package of cell {result.cell_id} to {result.path}, signed by "
               f"key {result.signed_by}")


@export_group.command("cells")
@store_options
@click.option("--out", type=_DIR_OUT, required=True,
              help="Folder to hold one package folder per cell.")
@_victim_options
@pass_session
def export_cells_command(session: Session, out: Path, reveal: bool,
                         reason: str | None) -> None:
    """One raid package per cell of the latest cell run, in OUT/cell-<ID>/.

    Example: ringmap export cells --out packages/
    """
    with session.audited("export", reason=reason) as counts:
        results = export_cells(session.store(), out, reveal=reveal, reason=reason)
        counts["packages"] = len(results)
        if results:
            counts["signed_by"] = results[0].signed_by
    signed = f", signed by key {results[0].signed_by}" if results else ""
    click.echo(f"Wrote {len(results)} raid packages under {out}{signed}")


@export_group.command("graph")
@store_options
@click.option("--format", "fmt", type=click.Choice(GRAPH_FORMATS), required=True,
              help="GraphML (yEd, Gephi), GEXF (Gephi) or node-link JSON.")
@click.option("--out", type=_HTML_OUT, required=True, help="File to write.")
@_victim_options
@pass_session
def export_graph_command(session: Session, fmt: str, out: Path, reveal: bool,
                         reason: str | None) -> None:
    """The whole evidence graph as GraphML, GEXF or JSON; victims pseudonymised.

    Example: ringmap export graph --format graphml --out case.graphml
    """
    require_reason(reveal, reason)
    with session.audited("export", reason=reason) as audited:
        counts = export_graph(session.store(), out, fmt, reveal=reveal)
        audited.update({"format": fmt, **counts})
    click.echo(f"Wrote {counts['nodes']} nodes and {counts['edges']} edges as {fmt} to {out}")


@export_group.command("ftm")
@store_options
@click.option("--out", type=_HTML_OUT, required=True, help="FtM JSON lines file to write.")
@click.option("--cells/--no-cells", default=True, show_default=True,
              help="Also write the latest cell run's cells (Organization, Membership).")
@_victim_options
@pass_session
def export_ftm_command(session: Session, out: Path, cells: bool, reveal: bool,
                       reason: str | None) -> None:
    """The evidence graph and its cells as FollowTheMoney entities that Aleph loads.

    Every entity is checked against the FtM model; victims are pseudonymised and cards shown
    as BIN + last four unless --include-victim-details. Importing the file into a fresh case
    and exporting again gives the same entities (docs/ftm.md). Needs ringmap[ftm].

    Example: ringmap export ftm --out case.ftm.json
    """
    require_reason(reveal, reason)
    ftm_model()  # one line naming the extra before the audit log says anything was tried
    with session.audited("export", reason=reason) as audited:
        result = export_ftm(session.store(), out, reveal=reveal, cells=cells)
        audited.update({"format": "ftm", **result.counts()})
    click.echo(f"Wrote {result.entities} FtM entities to {out}")


@click.command("verify")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--key", metavar="KEY",
              help="The key the sender signs with: their public key file (.pub) or its "
                   "fingerprint, as given by another channel. A package signed by any other "
                   "key fails.")
def verify(folder: Path, key: str | None) -> None:
    """Check a raid package: the signature of its manifest, then every changed, missing or
    extra file.

    A file edited and its hash recomputed in the manifest breaks the signature. Anyone can
    sign with a key of their own, so without --key a valid signature only says which key
    signed (its fingerprint is printed): compare it with the one the sender gave you.
    Needs no case. The check is appended to the audit log named by RINGMAP_AUDIT_LOG when it
    is set; otherwise nothing is written, neither beside the package (which may sit on
    read-only media) nor in the current folder.

    Example: ringmap verify raid-C001/
    """
    result = verify_package(folder, expected_fingerprint(key) if key is not None else None)
    if os.environ.get("RINGMAP_AUDIT_LOG"):
        audit.record(audit.audit_path(), "verify", sys.argv[1:],
                     counts={"problems": len(result.problems), "signed_by": result.signed_by,
                             "key_checked": result.key_checked})
    for problem in result.problems:
        click.echo(problem)
    if result.problems:
        raise ExportError(f"{folder} does not match its signed manifest: "
                          f"{len(result.problems)} problem(s)")
    click.echo(f"OK: every file of {folder} matches its manifest, signed by key "
               f"{result.signed_by}")
    if not result.key_checked:
        click.echo("Trust: this says which key signed, not whose it is; compare the "
                   "fingerprint with the one the sender gave you, or pass --key.")


COMMANDS: list[click.Command] = [map_group, export_group, verify]

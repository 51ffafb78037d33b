"""CLI commands of ringmap.analysis: ``ringmap cells`` and ``ringmap cell``."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import chain, repeat
from typing import Any, NamedTuple

import click

from ringmap.analysis.cells import CellSettings, detect_cells
from ringmap.analysis.explain import SavedCells, write_cells
from ringmap.analysis.gds import Ties, choose_engine, detect_cells_gds, gds_version
from ringmap.analysis.report import CELL_COLUMNS, cell_rows
from ringmap.cli.session import (
    Session,
    emit,
    emit_pieces,
    engine_option,
    format_option,
    pass_session,
    store_options,
    window_options,
)
from ringmap.cli.windows import windowed_cells
from ringmap.errors import ConfigError, NotFound
from ringmap.graphs.model import AnalysisRun, CellRecord
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy
from ringmap.tabular import Format

__all__ = ["COMMANDS"]

_MEMBER_COLUMNS = ["member", "label", "type", "confidence", "degree", "betweenness", "pagerank",
                   "tie", "evidence"]
_MEMBERS_COLUMNS = ["member", "label", "type", "role", *_MEMBER_COLUMNS[3:]]


def _resolution(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"--resolution must be auto or a positive number, got {text!r}")
    return value


@click.command("cells")
@store_options
@click.option("--method", type=click.Choice(["leiden", "louvain", "lpa"]), default="leiden",
              show_default=True, help="Community detection method.")
@click.option("--resolution", default="auto", show_default=True, metavar="auto|X",
              help="Modularity resolution; auto picks realistic cell sizes (5-40 agents).")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--runs", type=click.IntRange(1, 100), default=10, show_default=True,
              help="Seeds in the consensus that gives each member its confidence.")
@click.option("--members", is_flag=True,
              help="With --format json or csv: every cell's members and their roles too.")
@engine_option
@click.option("--ties", type=click.Choice(["python", "database"]), default="python",
              show_default=True,
              help="With --engine gds: where the weighted agent ties are built, here and sent, "
                   "or inside Neo4j by one Cypher statement per stage of the projection.")
@click.option("--window", metavar="N[d|w]",
              help="Cells per time window of N days or weeks, their lineage and the agents "
                   "who moved (nothing saved as a run).")
@window_options
@format_option()
@pass_session
def cells_command(
    session: Session, method: str, resolution: str, seed: int, runs: int, members: bool,
    engine: str | None, ties: Ties, window: str | None, from_day: datetime | None,
    to_day: datetime | None, fmt: Format,
) -> None:
    """Find the cells agents work in, save them as a new run and list them.

    One row per cell: agents, accounts, victims, their countries, money received in USD,
    the key player and the mean confidence; then one row per agent in no cell (cell
    "unassigned", the agent as key player, with what it reached on its own). A cell holds at
    least two agents (an account of unknown owner counts as a third of one): a lone suspect,
    even with accounts of unknown owner tied to him, is unassigned, not a cell of one.
    Confidence is how often the consensus runs put a member with the rest of its cell.
    Unassigned members and infrastructure identifiers (hubs not used for linking) are counted
    on stderr. On Neo4j with OpenGDS the partitions and key players run in the database
    (--engine gds): same ties, same cell ids, GDS's Leiden.

    With --members (json or csv), every cell's members in the same call: JSON gives each
    cell its ``members`` (id, label, type, role, confidence, centrality, strongest tie), CSV
    one row per member with its cell. Ids on the victim side are pseudonymised.

    With --window (or --from/--to): the cells of each window among the agents active in it,
    each cell's lineage from window to window (continues, splits, merges, appears, ends) and
    the agents who moved, with the dated links that show them in each cell.

    Example: ringmap cells --runs 10 --format json
    """
    if members and fmt == "table":
        raise ConfigError("--members needs --format json or csv")
    settings = CellSettings.model_validate(
        {"method": method, "resolution": _resolution(resolution), "seed": seed, "runs": runs})
    if window is not None or from_day is not None or to_day is not None:
        windowed_cells(session, settings, window, from_day, to_day, fmt)
        return
    with session.audited("cells") as counts:
        store = session.store()
        saved, found = _saved_run(store, settings, engine, ties)
        counts.update({"cells": len(saved.cells), "units": found.units,
                       "unassigned": found.unassigned})
        if members:  # printed a cell at a time as its members are read
            _emit_members(store, saved, found.members, fmt)
    if not members:
        emit(saved.rows(), fmt, CELL_COLUMNS)
    click.echo(f"run {saved.run.run_id}: {len(saved.cells)} cells, "
               f"{found.unassigned} unassigned, "
               f"{found.infrastructure} infrastructure identifiers", err=True)


class _Found(NamedTuple):
    """What ``ringmap cells`` prints of a detection once it is saved."""

    members: list[str]
    """The members of every cell, cell after cell."""
    units: int
    unassigned: int
    infrastructure: int


def _saved_run(store: Store, settings: CellSettings, engine: str | None, ties: Ties
               ) -> tuple[SavedCells, _Found]:
    """Detect the cells, save them as a run, and keep only what is printed of the
    detection: its evidence graph and agent projection are let go before every member's row
    is read (they were held to the end, under the members' rows and explanations read back:
    issue 16)."""
    chosen = choose_engine(engine, settings.method, gds=gds_version(store))
    result = (detect_cells_gds(store, settings, ties=ties) if chosen == "gds"
              else detect_cells(store, settings))
    saved = write_cells(store, result)
    found = _Found([m for c in result.cells for m in c.members], len(result.agents.units),
                   len(result.unassigned), len(result.agents.infrastructure))
    # the evidence graph refers to itself (networkx's cached views of a graph): it goes with
    # a collection, not with the last reference to it
    del result
    gc.collect()
    return saved, found


def _find_cell(store: Store, cell_id: str, run_id: str | None) -> tuple[AnalysisRun, CellRecord]:
    runs = store.analysis_runs("cells")
    if not runs:
        raise NotFound("no cell run in this store: run `ringmap cells` first")
    if run_id is None:
        run = runs[-1]
    else:
        matches = [r for r in runs if r.run_id == run_id]
        if not matches:
            raise NotFound(f"no cell run {run_id!r} (latest: {runs[-1].run_id})")
        run = matches[0]
    for record in store.load_cells(run.run_id, cell_ids=[cell_id]):
        return run, record
    raise NotFound(f"no cell {cell_id!r} in run {run.run_id}")


def _member_rows(store: Store, record: CellRecord, privacy: Privacy | None = None
                 ) -> list[dict[str, Any]]:
    """The rows of a cell's members, labelled as the maps label them (``privacy``: made from
    the store's victim side of these members when not given)."""
    nodes = store.get_many(m.node_id for m in record.members)
    privacy = Privacy(victims=store.victim_side(nodes)) if privacy is None else privacy
    scores = record.summary.centrality if record.summary else {}
    rows = []
    for member in record.members:
        node = nodes.get(member.node_id)
        score = scores.get(member.node_id)
        top = member.explanation[0] if member.explanation else None
        seen = top.evidence[0] if top and top.evidence else None
        rows.append({
            "member": member.node_id,
            "label": privacy.label(node.id, {"type": node.type, **node.props}) if node else None,
            "type": node.type if node else None,
            "confidence": member.confidence,
            "degree": score.degree if score else None,
            "betweenness": score.betweenness if score else None,
            "pagerank": score.pagerank if score else None,
            "tie": f"{top.kind} {top.label}" if top else None,
            "evidence": f"{seen.file}:{seen.row}" if seen else None,
        })
    return rows


def _role(record: CellRecord, member: str, type_: str | None) -> str:
    """A member's part in its cell: key player, broker, or a plain agent or account."""
    report = record.summary
    if report is not None and any(k.node == member for k in report.key_players):
        return "key player"
    if report is not None and any(b.node == member for b in report.brokers):
        return "broker"
    return "account" if type_ == "Account" else "agent"


#: cells whose saved records (explanations and all) are read at once for their members' rows
_CELLS_READ = 50


def _every_member(store: Store, saved: SavedCells, members: Iterable[str]
                  ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each saved cell's id and its members' rows (:data:`_MEMBERS_COLUMNS`), ids as exports
    show them, in cell order: read a few cells at a time, since every member's explanation of
    a large run is more than the rest of the run together (0.26 GB at 600 cells), and every
    cell's report grows with the run as well. ``members`` are those of every cell."""
    # the victim side asked once for every member: once per cell it was 84% of the time of
    # `cells --members` (600 cells: 600 queries, each as slow as the one for all of them)
    privacy = Privacy(victims=store.victim_side(members))
    cell_ids = [row["cell"] for row in saved.cells]
    for start in range(0, len(cell_ids), _CELLS_READ):
        part = cell_ids[start:start + _CELLS_READ]
        found = {r.cell_id: r for r in store.load_cells(saved.run.run_id, cell_ids=part)}
        for cell_id in part:  # as saved: the run's cells were written just now
            record = found[cell_id]
            yield cell_id, [{**row, "member": privacy.public_id(row["member"]),
                             "role": _role(record, row["member"], row["type"])}
                            for row in _member_rows(store, record, privacy)]


def _emit_members(store: Store, saved: SavedCells, members: Iterable[str], fmt: Format
                  ) -> None:
    """Print ``saved``'s rows with their members (JSON) or every member's row (``fmt``
    csv), a cell at a time (:func:`_every_member`)."""
    listed = _every_member(store, saved, members)
    if fmt == "csv":
        emit_pieces(({"cell": cell, **row} for cell, rows in listed for row in rows), fmt,
                    ["cell", *_MEMBERS_COLUMNS])
        return
    rows = saved.rows()  # every cell's row in cell order, then the agents in no cell
    each = chain((found for _cell, found in listed), repeat([]))
    emit_pieces(({**row, "members": next(each)} for row in rows), "json",
                list(dict.fromkeys(key for row in rows for key in (*row, "members"))))


def _overview(run_id: str, record: CellRecord) -> dict[str, Any]:
    report = record.summary
    if report is None:
        return {**cell_rows(record.cell_id, report), "run": run_id, "report": "none saved"}
    money = report.money
    return {**cell_rows(record.cell_id, report), "run": run_id,
            "persons": len(report.persons),
            "sites": ", ".join(s.label for s in report.sites),
            "money": ", ".join(f"{c} {a:,.2f}" for c, a in money.by_currency.items()),
            "unidentified contacts": report.unidentified_contacts,
            "infrastructure": ", ".join(
                f"{k} {v.count}" for k, v in report.infrastructure.items()),
            "brokers": len(report.brokers),
            "unassigned tied": ", ".join(
                f"{o.node} ({', '.join(i.label for i in o.shared[:3])})"
                for o in report.unassigned),
            "disputed roles": "; ".join(
                f"{d.person}: " + " / ".join(f"{c.role} ({c.grading} {c.file})"
                                            for c in d.claims)
                for d in report.disputed_roles)}


@click.command("cell")
@store_options
@click.argument("cell_id", metavar="ID")
@click.option("--run", "run_id", metavar="RUN", help="Cell run to read [default: the latest].")
@format_option()
@pass_session
def cell_command(session: Session, cell_id: str, run_id: str | None, fmt: Format) -> None:
    """Show the full report of one cell from a saved cell run.

    Table: the cell's overview, then one row per member with its centrality and its strongest
    tie. JSON: the whole record (report, members, explanations with provenance). CSV: the
    members.

    Example: ringmap cell C001 --format json
    """
    store = session.store()
    run, record = _find_cell(store, cell_id, run_id)
    session.audit("cell", counts={"members": len(record.members)})
    if fmt == "json":
        saved = record.summary.model_dump(mode="json") if record.summary else {}
        emit([{"run": run.run_id, "cell": record.cell_id, "summary": saved,
               "members": [m.model_dump(mode="json") for m in record.members]}], fmt)
        return
    members = _member_rows(store, record)
    if fmt == "table":
        emit([{"field": k, "value": v} for k, v in _overview(run.run_id, record).items()], fmt)
        click.echo("")
    emit(members, fmt, _MEMBER_COLUMNS)


COMMANDS: list[click.Command] = [cells_command, cell_command]

"""``ringmap run``: the whole job on a case folder — ingest, cells, maps, summary.

A case folder holds ``case.yaml``, the evidence tables and their mappings (see
:mod:`ringmap.ingest.case`). The run ingests every table (a re-run changes nothing), detects the
cells and saves them as a new analysis run, and writes into ``--out``::

    summary.md, summary.json   counts, row accounting, cells, infrastructure, files written
    cells.csv                  one row per cell (agents, victims, countries, USD, key player),
                               then one per agent in no cell
    maps/cells.html            cell map (offline, text-only), when there are cells
    maps/victims.html          victims across countries (world map with a time filter)
    timeline.svg               contacts, payments (USD), reports and arrests per week
    timeline-cells.svg         the same per cell, one lane each, when there are cells
    packages/cell-*/           raid packages, with --packages
    quarantine/                rejected rows, when there are any
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from ringmap.analysis.cells import CellSettings, detect_cells
from ringmap.analysis.explain import write_cells
from ringmap.analysis.gds import Engine, choose_engine, detect_cells_gds, gds_version
from ringmap.analysis.report import CELL_COLUMNS
from ringmap.errors import AnalysisError
from ringmap.fileio import write_atomic
from ringmap.graphs.model import CellRecord
from ringmap.graphs.stats import conflict_counts, count_rows
from ringmap.graphs.store import Store
from ringmap.ingest.case import load_case
from ringmap.ingest.run import CheckedTask, IngestReport, check_files, ingest_files
from ringmap.perf import Progress
from ringmap.privacy import Privacy
from ringmap.tabular import render, to_jsonable, write_csv
from ringmap.viz.maps import write_cell_map, write_victim_map
from ringmap.viz.package import export_cells
from ringmap.viz.reach import reach_cells
from ringmap.viz.timeline import (
    TIMELINE_COLUMNS,
    run_timelines,
    timeline_row,
    write_cells_timeline,
    write_timeline,
)

__all__ = ["RunSummary", "run_case"]


@dataclass
class RunSummary:
    """What one ``ringmap run`` did."""

    case: str
    store: str
    ingest: IngestReport
    counts: list[dict[str, Any]]
    conflicts: dict[str, int] = field(default_factory=dict)
    """Properties whose sources disagree, per ``Type.property`` (``ringmap conflicts``)."""
    cells_run: str | None = None
    cells: list[dict[str, Any]] = field(default_factory=list)
    """One row per cell (:data:`~ringmap.analysis.report.CELL_COLUMNS`)."""
    cells_note: str | None = None
    unassigned: int = 0
    """Agents and accounts in no cell."""
    unassigned_agents: list[dict[str, Any]] = field(default_factory=list)
    """One row per agent in no cell, in the columns of :attr:`cells`."""
    infrastructure: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    """The case's, then each cell's timeline figures
    (:data:`~ringmap.viz.timeline.TIMELINE_COLUMNS`)."""
    files: list[str] = field(default_factory=list)
    packages_signed_by: str | None = None
    """The fingerprint of the key that signed the raid packages, if any were written."""

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        data: dict[str, Any] = to_jsonable({
            "case": self.case, "store": self.store, "ingest_run": self.ingest.run_id,
            "ingest": self.ingest.rows(), "totals": self.ingest.totals(),
            "counts": self.counts, "conflicts": self.conflicts,
            "cells_run": self.cells_run, "cells": self.cells,
            "cells_note": self.cells_note, "unassigned": self.unassigned,
            "unassigned_agents": self.unassigned_agents,
            "infrastructure": self.infrastructure, "timeline": self.timeline,
            "files": self.files, "packages_signed_by": self.packages_signed_by,
        })
        return data


def run_case(
    store: Store,
    case_dir: Path,
    out: Path,
    *,
    settings: CellSettings | None = None,
    maps: bool = True,
    packages: bool = False,
    progress: Progress | None = None,
    tables: list[CheckedTask] | None = None,
    bulk: bool | None = None,
    engine: Engine | None = None,
) -> RunSummary:
    """Ingest ``case_dir`` into ``store``, detect cells and write results into ``out``.

    Every table is checked (mappings, encodings, columns) before anything is written. The
    evidence graph is projected once, after ingest, and handed to cells, maps and packages.
    ``tables``, if given, are the case's tables checked already (before the store existed).
    ``bulk`` picks the store's bulk path for a new case (see :func:`ingest_files`);
    ``engine`` where the cells are found (:func:`~ringmap.analysis.gds.choose_engine`: GDS on
    a Neo4j store that has it, unless ``"python"``).

    Raises
    ------
    InputError, MappingError
        The case folder, a table or a mapping is unusable; nothing was written.
    ConfigError
        GDS asked for where the store has none; nothing was written.
    """
    settings = settings or CellSettings()
    chosen = choose_engine(engine, settings.method, gds=gds_version(store))
    checked = tables if tables is not None else check_files(load_case(case_dir))
    out.mkdir(parents=True, exist_ok=True)
    report = ingest_files(store, checked, quarantine_dir=out / "quarantine", progress=progress,
                          command="run", bulk=bulk)
    summary = RunSummary(case=str(case_dir), store=store.describe(), ingest=report,
                         counts=count_rows(store), conflicts=conflict_counts(store))
    evidence = store.evidence()  # read once, from arrays: cells, maps and packages share it
    # decided once: who is shown under a pseudonym, in the cells' reports, maps and packages
    privacy = Privacy.for_graph(evidence)
    records = _cells(store, settings, evidence, chosen, summary, privacy)
    # the same files whatever the case holds: an empty cells.csv, and the victims map
    # (which needs no cells) say "nothing found" better than a missing file
    write_csv(out / "cells.csv", summary.cells + summary.unassigned_agents, CELL_COLUMNS)
    summary.files.append("cells.csv")
    # found once: what each cell reached, for every map, timeline and package
    reaches = reach_cells(evidence, records)
    # drawn once: the summary, the timeline pictures and the victims map's time filter
    lines = run_timelines(evidence, records, reaches=reaches)
    summary.timeline = [timeline_row(line) for line in lines]
    # the cells just saved, not read back: a second copy was the run's peak memory
    latest = (summary.cells_run, records) if summary.cells_run and records else None
    if maps:
        if summary.cells:
            write_cell_map(store, out / "maps" / "cells.html", graph=evidence, latest=latest,
                           reaches=reaches, privacy=privacy)
            summary.files.append("maps/cells.html")
        write_victim_map(store, out / "maps" / "victims.html", graph=evidence,
                         cells=latest[1] if latest else None, reaches=reaches,
                         timelines=(lines[0], {r.cell_id: line for r, line in
                                               zip(records, lines[1:], strict=True)}))
        summary.files.append("maps/victims.html")
    if maps:
        write_timeline(lines[0], out / "timeline.svg")
        summary.files.append("timeline.svg")
        if records:
            write_cells_timeline(lines[1:], out / "timeline-cells.svg")
            summary.files.append("timeline-cells.svg")
    if packages and summary.cells:
        # nor with every explanation for the packages (they show none)
        written = export_cells(store, out / "packages", graph=evidence, latest=latest,
                               reaches=reaches, privacy=privacy)
        summary.files += [f"packages/{p.path.name}/" for p in written]
        summary.packages_signed_by = written[0].signed_by if written else None
    summary.files += ["summary.json", "summary.md"]
    write_atomic(out / "summary.json", json.dumps(summary.as_json(), indent=2,
                                                  ensure_ascii=False) + "\n")
    write_atomic(out / "summary.md", _markdown(summary))
    return summary


def _cells(store: Store, settings: CellSettings, evidence: nx.MultiDiGraph, engine: Engine,
           summary: RunSummary, privacy: Privacy) -> list[CellRecord]:
    """Detect the cells, save them and put them in ``summary``; the cells saved. What
    detection found beyond them (the agent projection) is let go here, before the maps: held
    through them, it was part of the run's peak."""
    try:
        result = (detect_cells_gds(store, settings, evidence) if engine == "gds"
                  else detect_cells(store, settings, evidence))
    except AnalysisError as exc:
        summary.cells_note = exc.one_line()
        return []
    # kept for the maps, timelines and packages that follow
    saved = write_cells(store, result, privacy=privacy, keep=True)
    rows = saved.rows()
    summary.cells_run = saved.run.run_id
    summary.cells = rows[: len(saved.cells)]
    summary.unassigned_agents = rows[len(saved.cells):]
    summary.unassigned = len(result.unassigned)
    summary.infrastructure = saved.run.summary["infrastructure"]
    if not saved.records:
        summary.cells_note = (f"none of the {len(result.agents.units)} agent(s) is tied "
                              "to another closely enough to form a cell of two or more "
                              "agents; all are unassigned")
    return saved.records


def _conflicts(counts: dict[str, int]) -> str:
    if not counts:
        return "Every source agrees on every property.\n"
    listed = ", ".join(f"{name} {n}" for name, n in counts.items())
    return (f"Sources disagree on {sum(counts.values())} propert(ies): {listed}; the "
            "best-graded value is shown, `ringmap conflicts` lists every source.\n")


def _markdown(summary: RunSummary) -> str:
    def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
        return "```\n" + render(rows, "table", columns) + "\n```\n"

    totals = summary.ingest.totals()
    rejected = summary.ingest.rejected_whole()
    parts = [
        f"# ringmap run: {summary.case}\n",
        f"Store: `{summary.store}`; ingest run `{summary.ingest.run_id}`.\n",
        "## Evidence\n",
        f"{totals['files']} file(s): {totals['read']} rows read, {totals['loaded']} loaded, "
        f"{totals['duplicate']} duplicate, {totals['rejected']} rejected (quarantined).\n",
        *([f"**Warning: {rejected}.**\n"] if rejected else []),
        table(summary.ingest.rows()),
        _conflicts(summary.conflicts),
        "## Graph\n",
        table(summary.counts),
        "## Cells\n",
    ]
    if summary.cells_note:
        parts.append(f"No cells: {summary.cells_note}\n")
    if summary.cells:
        parts += [
            f"Run `{summary.cells_run}`: {len(summary.cells)} cell(s), {summary.unassigned} "
            "agent(s) unassigned. Cells are an analytical assessment, not evidence: each "
            "member's confidence and the shared identifiers behind it are in "
            "`ringmap cell ID`.\n",
            table(summary.cells + summary.unassigned_agents, CELL_COLUMNS),
            "## Infrastructure (shared too widely to link agents)\n",
            table(summary.infrastructure[:20]) if summary.infrastructure else "None.\n",
        ]
    parts += ["## Time\n", *(f"![{alt}]({name})\n" for name, alt in (
        ("timeline.svg", "Contacts, payments, reports and arrests per week"),
        ("timeline-cells.svg", "Each cell over time")) if name in summary.files),
        "First and last contact, the week most contacts began, and the totals (payments "
        "in USD at each payment's date):\n", table(summary.timeline, TIMELINE_COLUMNS)]
    parts += ["## Files\n", "".join(f"- {f}\n" for f in summary.files)]
    if summary.packages_signed_by:
        parts.append(f"\nRaid packages signed by key `{summary.packages_signed_by}`: give "
                     "recipients this fingerprint by another channel (`ringmap verify DIR "
                     "--key FINGERPRINT`).\n")
    return "\n".join(parts)

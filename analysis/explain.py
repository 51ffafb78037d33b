"""Why each member is in its cell, with the evidence rows behind it; saving a detection run.

:func:`explain_members` gives every member of a cell its strongest shared identifiers, each with
the provenance rows (file, row, reference, grading) that saw it, read through an
:class:`EvidenceReader` within a budget of store lookups. :func:`write_cells` explains every
cell of a :class:`~ringmap.analysis.cells.CellsResult`, builds each cell's report
(:mod:`ringmap.analysis.report`) as its part is saved, and saves the run with its parameters
through ``Store.save_cells``, where ``ringmap cell``, maps, exports and queries read it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ringmap.analysis.cells import Cell, CellsResult
from ringmap.analysis.report import (
    Labels,
    Reporter,
    UnassignedAgent,
    cell_rows,
    disputed_roles,
    holdings_by_cell,
    unassigned_row,
)
from ringmap.graphs.model import (
    AnalysisRun,
    CellMember,
    CellRecord,
    EvidenceRow,
    Provenance,
    Tie,
    built,
    edge_id,
    utcnow,
)
from ringmap.graphs.sameas import original_ids
from ringmap.graphs.store import Store
from ringmap.perf import paused_gc
from ringmap.privacy import Privacy

__all__ = ["EvidenceReader", "SavedCells", "explain_members", "public_edge", "write_cells"]


def public_edge(privacy: Privacy, eid: str) -> str:
    """An edge id with its victim-side ends pseudonymised (see :mod:`ringmap.privacy`)."""
    rel, _, ends = eid.partition(":")
    src, sep, dst = ends.partition("->")
    if not sep:
        return privacy.public_id(eid)
    return f"{rel}:{privacy.public_id(src)}->{privacy.public_id(dst)}"


@dataclass
class EvidenceReader:
    """Provenance rows behind ties, within a budget of store lookups for the whole run.

    A tie's evidence comes from the first relationship on its way that has sightings (the one
    tying the agent to the identifier); once ``budget`` lookups are spent, further ties keep
    their identifiers but no rows, and :attr:`exhausted` says so.
    """

    store: Store
    privacy: Privacy
    rows_per_tie: int
    budget: int
    lookups: int = 0
    exhausted: bool = False

    fetched: dict[str, list[Provenance]] | None = None
    prefetched: set[str] = field(default_factory=set)
    """The first ``budget`` items handed out while deferring, over every :meth:`resolve`."""
    deferred: list[tuple[tuple[str, ...], list[EvidenceRow]]] | None = None
    graph: nx.MultiDiGraph | None = None
    """The evidence graph the items come from, when same-as groups may be collapsed in it."""

    made: dict[str, list[EvidenceRow]] = field(default_factory=dict)
    """Item -> its rows, built once: an item behind several ties (a contact between two
    agents, a seized exhibit) shares one set of frozen rows between them."""

    def rows(self, items: tuple[str, ...]) -> list[EvidenceRow]:
        """Up to ``rows_per_tie`` provenance rows of the first of ``items`` seen anywhere.

        While :meth:`deferring`, returns an empty list that :meth:`resolve` fills later.
        """
        if self.deferred is not None:
            placeholder: list[EvidenceRow] = []
            self.deferred.append((items, placeholder))
            return placeholder
        for item in items:
            if self.lookups >= self.budget or (
                    self.fetched is not None and item not in self.prefetched):
                self.exhausted = True
                return []
            self.lookups += 1
            made = self.made.get(item)
            if made is None:
                found = [(store_id, p) for store_id in self._behind(item)
                         for p in (self.store.provenance(store_id) if self.fetched is None
                                   else self.fetched.get(store_id, []))]
                found = found[: self.rows_per_tie]
                # an id seen in several rows is shown once (pseudonyms are scanned for cards)
                shown = {store_id: public_edge(self.privacy, store_id)
                         for store_id in dict.fromkeys(s for s, _ in found)}
                # built from the store's own ledger: no need to validate again
                made = self.made[item] = [built(
                    EvidenceRow, item=shown[store_id], file=p.source_file, row=p.row,
                    ref=p.ref, grading=str(p.grading)) for store_id, p in found]
            if made:
                return list(made)
        return []

    def _behind(self, item: str) -> list[str]:
        """The store ids behind an item of the (possibly same-as collapsed) graph."""
        return [item] if self.graph is None else original_ids(self.graph, item)

    def deferring(self) -> None:
        """Hand out placeholders instead of reading, until :meth:`resolve`."""
        self.deferred = []

    def resolve(self, batch: int = 5_000) -> None:
        """Read the deferred items' provenance in bulk (within the lookup budget) and fill
        the placeholders in the order they were handed out, so explanations cost a few store
        round trips rather than one per tie.

        The provenance is read for ``batch`` placeholders at a time: every sighting of every
        tie of a large run at once would be the largest thing the run holds. A run may defer
        and resolve its explanations in parts (see :func:`write_cells`): the rows are those
        of one resolve of them all.
        """
        deferred, self.deferred = self.deferred or [], None
        # the budget goes to the first items handed out in the whole run, not in this part
        wanted = self.prefetched
        for items, _ in deferred:
            for item in items:
                if len(wanted) >= self.budget:
                    break
                wanted.add(item)
        for start in range(0, len(deferred), batch):
            part = deferred[start:start + batch]
            # an item shows its first rows only: the first of each id behind it are enough
            self.fetched = {store_id: first for store_id, (first, _seen) in
                            self.store.provenance_first((
                                store_id for item in dict.fromkeys(
                                    i for items, _ in part for i in items)
                                if item in self.prefetched and item not in self.made
                                for store_id in self._behind(item)), self.rows_per_tie).items()}
            for items, placeholder in part:
                placeholder.extend(self.rows(items))
        # every placeholder is filled: let the provenance read in bulk go (a later call
        # reads the store again, as before deferring), and the rows made (they are in their
        # ties now; an item met again in a later part is read again, not kept for the run)
        self.fetched = None
        self.made.clear()


def _shown(labels: Labels, ident: str) -> dict[str, str]:
    """How an identifier appears: a node as privacy shows it; a contact as its edge."""
    if ident in labels.graph:
        return {"identifier": labels.privacy.public_id(ident), "label": labels(ident)}
    shown = public_edge(labels.privacy, ident)
    return {"identifier": shown, "label": shown}


def _uses_tie(evidence: EvidenceReader, person: str, account: str, users: int
              ) -> dict[str, Any]:
    """An account is in its user's cell: the USES link and its evidence."""
    return {"kind": "uses", "identifier": person, "label": person, "weight": None,
            "shared_by": users, "in_cell": 1, "infrastructure": False,
            "evidence": evidence.rows((edge_id("USES", person, account),))}


def explain_members(
    result: CellsResult,
    cell: Cell,
    evidence: EvidenceReader,
    held: Mapping[int, list[str]] | None = None,
    in_cell: Mapping[str, int] | None = None,
    labels: Labels | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Why each member is in ``cell``: its strongest shared identifiers, with provenance.

    Victims are shown as ``evidence.privacy`` shows them (pseudonymised by default). Passed in
    when explaining many cells: ``held`` is :meth:`AgentGraph.holdings`, ``in_cell`` the
    cell's identifiers -> how many of its members hold each (see
    :func:`~ringmap.analysis.report.holdings_by_cell`), ``labels`` those of the run's evidence
    graph.

    Returns
    -------
    dict
        Member node id -> ties, strongest first: ``kind``, ``identifier``, ``label``,
        ``weight`` (its contribution), ``shared_by`` (agents holding it), ``in_cell`` (of them
        in this cell) and ``evidence`` rows (file, row, ref, grading).
    """
    agents, settings = result.agents, result.settings
    held = agents.holdings() if held is None else held
    labels = Labels(evidence.privacy, agents.evidence) if labels is None else labels
    # how many of the cell's members hold each identifier: counted from their holdings, not
    # by walking every holder of every identifier (a hub's are thousands) once per member
    in_cell_of = (Counter(ident for v in cell.units for ident in held.get(v, ()))
                  if in_cell is None else in_cell)
    out: dict[str, list[dict[str, Any]]] = {}
    for v in cell.units:
        ties: list[tuple[float, str, int, int]] = []
        for ident in held.get(v, ()):
            holders = agents.incidence[ident]
            shared = in_cell_of[ident]
            if shared < 2:
                continue
            kind = agents.kinds[ident]
            k = len(holders)
            weight = 0.0 if ident in agents.infrastructure else (
                settings.projection.weight(kind) * settings.projection.hub_factor(k)
                * (shared - 1) * holders.reliability(v))
            ties.append((weight, ident, k, shared))
        ties.sort(key=lambda t: (-t[0], t[1]))
        unit = agents.units[v]
        out[unit] = [
            {"kind": agents.kinds[ident], **_shown(labels, ident),
             "weight": round(weight, 4), "shared_by": k, "in_cell": shared,
             "infrastructure": ident in agents.infrastructure,
             "evidence": evidence.rows(agents.incidence[ident][v].via)}
            for weight, ident, k, shared in ties[: settings.explain_top]
        ]
        for account in agents.accounts.get(unit, ()):
            out[account] = [_uses_tie(evidence, unit, account, 1)]
    for account, users in agents.shared_accounts.items():
        if account in cell.members:
            out[account] = [_uses_tie(evidence, u, account, len(users))
                            for u in users if u in cell.members]
    return out


#: placeholders for evidence rows after which a part of the cells is explained and saved
_PART = 5_000


@dataclass(frozen=True)
class SavedCells:
    """A detection run as saved: the run, each cell's row (:func:`cell_rows`), the agents in
    no cell, and the cells with their reports but without their explanations only when the
    caller kept them (``keep``: the store has them all, :meth:`Store.load_cells`; a large
    run's reports, like its explanations, are never all held unless asked for)."""

    run: AnalysisRun
    cells: list[dict[str, Any]]
    unassigned: list[UnassignedAgent]
    records: list[CellRecord]
    """The cells as saved, without their explanations, if kept; else empty."""

    def rows(self) -> list[dict[str, Any]]:
        """One row per cell, then one per agent in no cell (:data:`CELL_COLUMNS`)."""
        return [*self.cells, *(unassigned_row(a) for a in self.unassigned)]


def write_cells(store: Store, result: CellsResult, run_id: str | None = None,
                privacy: Privacy | None = None, *, keep: bool = False) -> SavedCells:
    """Explain, report and save a detection run; returns it as saved, its cells' records
    only if ``keep`` (see :class:`SavedCells`).

    ``privacy`` is :meth:`Privacy.for_graph` of the run's evidence graph if the caller made
    it already, as ``ringmap run`` does once for its cells, maps and packages (at 5,400 cells
    it takes about 20 s).
    """
    with paused_gc():
        return _write_cells(store, result, run_id, privacy, keep)


def _write_cells(store: Store, result: CellsResult, run_id: str | None,
                 privacy: Privacy | None, keep: bool) -> SavedCells:
    # the one privacy rule: likely victims (contacted accounts of no known user) included
    privacy = Privacy.for_graph(result.agents.evidence) if privacy is None else privacy
    # counted and labelled once for both the reports and the explanations
    labels = Labels(privacy, result.agents.evidence)
    holdings = holdings_by_cell(result)
    held = result.agents.holdings()
    # each cell's report made as its part is saved: all of them at once grew with the case
    reporter = Reporter(result, privacy, disputed=disputed_roles(store, privacy),
                        labels=labels, holdings=holdings, units_held=held)
    evidence = EvidenceReader(store, privacy, result.settings.evidence_per_tie,
                              result.settings.evidence_lookups, graph=result.agents.evidence)
    created = utcnow()
    run = AnalysisRun(
        run_id=run_id or f"cells-{created.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}",
        created=created,
        params={**result.settings.model_dump(mode="json"), "resolution_used": result.resolution},
        summary={
            "cells": len(result.cells),
            "agents": len(result.agents.units),
            "assigned": sum(len(c.units) for c in result.cells),
            "unassigned": result.unassigned,
            "infrastructure": [{"identifier": privacy.public_id(i),
                                "kind": result.agents.kinds[i], "shared_by": k,
                                "reason": result.infrastructure_reason(i)}
                               for i, k in sorted(result.agents.infrastructure.items(),
                                                  key=lambda kv: (-kv[1], kv[0]))],
            "scan": [vars(p) for p in result.scan],
            "grading": result.grading,
            "engine": result.engine,
            "seconds": result.timings,
        },
    )
    rows: list[dict[str, Any]] = []  # each cell's row, as returned
    kept: list[CellRecord] = []  # as returned if asked for: without their explanations

    def explained() -> Iterator[CellRecord]:
        """The cells with their explanations and reports, a part at a time, as the store
        saves them."""
        part: list[tuple[int, dict[str, list[dict[str, Any]]]]] = []
        evidence.deferring()
        for i, cell in enumerate(result.cells):
            part.append((i, explain_members(result, cell, evidence, held,
                                            holdings[0].get(i, {}), labels)))
            if len(evidence.deferred or ()) < _PART and i + 1 < len(result.cells):
                continue
            evidence.resolve()  # the ties' rows are filled in only now: build the ties after
            for index, why in part:
                done = result.cells[index]
                report = reporter.cell(index)
                rows.append(cell_rows(done.cell_id, report))
                members = sorted(done.members.items())
                if keep:
                    kept.append(CellRecord(
                        cell_id=done.cell_id,
                        members=[built(CellMember, node_id=m, confidence=float(c),
                                       explanation=[]) for m, c in members],
                        summary=report))
                yield CellRecord(cell_id=done.cell_id, members=[
                    built(CellMember, node_id=m, confidence=float(c),
                          explanation=[built(Tie, **t) for t in why.get(m, [])])
                    for m, c in members], summary=report)
            part = []
            evidence.deferring()
        evidence.deferred = None
        # the run is saved after its cells: what the explanations' evidence came to
        run.summary["evidence"] = (f"rows for the first {evidence.lookups:,} lookups only"
                                   if evidence.exhausted else "complete")

    store.save_cells(run, explained())
    return SavedCells(run, rows, reporter.unassigned(), kept)

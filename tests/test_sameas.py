"""issue 11 item 4: reviewed same-as links, on every store; projections treat a group as one."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ringmap.analysis.cells import CellSettings, detect_cells
from ringmap.analysis.explain import write_cells
from ringmap.analysis.projection import project_agents
from ringmap.errors import ConfigError, NotFound
from ringmap.graphs.sameas import (
    SAME_AS,
    SameAsGroups,
    merge,
    original_ids,
    sightings,
    unmerge,
)
from ringmap.graphs.store import Store
from ringmap.queries.engine import run_named
from ringmap.testing import CaseBuilder
from ringmap.viz.package import export_cell

StoreFactory = Callable[[], Store]


def _case() -> tuple[CaseBuilder, dict[str, str]]:
    """Two spellings of one suspect, each tied to a different partner: split in two cells
    unless merged."""
    case = CaseBuilder()
    ids = {
        "a": case.person("AG-1", name="DELA CRUZ, Juan", birth_year=1990, gender="M"),
        "b": case.person("NBI-77", name="J. Dela Cruz", birth_year=1990, gender="M"),
        "c": case.person("AG-2", name="Reyes, Maria", birth_year=1988, gender="F"),
        "d": case.person("AG-3", name="Santos, Mark", birth_year=1992, gender="M"),
    }
    ids["device"] = case.device("35-209900-176148-1")
    ids["phone"] = case.phone("0917 123 4567")
    case.link("USES", ids["a"], ids["device"])
    case.link("USES", ids["c"], ids["device"])
    case.link("USES", ids["b"], ids["phone"])
    case.link("USES", ids["d"], ids["phone"])
    return case, ids


def _snapshot(store: Store) -> dict[str, Any]:
    """Everything a reader of the store sees."""
    return {
        "counts": store.counts().model_dump(),
        "nodes": [(n.id, n.type, n.props) for n in store.nodes()],
        "edges": [(e.type, e.src, e.dst, e.props) for e in store.edges()],
        "provenance": {i: store.provenance(i) for i in
                       [n.id for n in store.nodes()] + [e.id for e in store.edges()]},
        "neighbours": {n.id: store.neighbours(n.id) for n in store.nodes()},
        "file_loads": store.file_loads(),
    }


def test_merge_then_unmerge_round_trips_exactly(any_store: Store, tmp_path: Path) -> None:
    case, ids = _case()
    store = case.ingest(any_store, tmp_path / "case")
    before = _snapshot(store)
    link = merge(store, ids["a"], ids["b"], "same ID card on both", decided_by="analyst",
                 score=0.97)
    assert [(e.src, e.dst, e.props["reason"], e.props["score"]) for e in
            store.edges([SAME_AS])] == [(ids["b"], ids["a"], "same ID card on both", 0.97)]
    assert store.edges([SAME_AS]).__next__().props["decided_at"] == link.props["decided_at"]
    assert store.counts().relationships[SAME_AS] == 1
    assert store.get(ids["b"]) is not None  # never destructive
    unmerge(store, ids["b"], ids["a"])  # either order
    assert _snapshot(store) == before
    merge(store, ids["a"], ids["b"], "again")  # and it can be decided again
    assert store.counts().relationships[SAME_AS] == 1


def test_merge_refuses_what_it_cannot_decide(any_store: Store, tmp_path: Path) -> None:
    case, ids = _case()
    store = case.ingest(any_store, tmp_path / "case")
    with pytest.raises(ConfigError, match="reason"):
        merge(store, ids["a"], ids["b"], "  ")
    with pytest.raises(ConfigError, match="only persons and accounts"):
        merge(store, ids["a"], ids["phone"], "why not")
    with pytest.raises(NotFound, match="no node"):
        merge(store, ids["a"], "Person:NOBODY", "typo")
    merge(store, ids["a"], ids["b"], "same person")
    merge(store, ids["b"], ids["c"], "same person too")
    with pytest.raises(ConfigError, match="merged already"):
        merge(store, ids["c"], ids["a"], "again")
    with pytest.raises(NotFound, match="through others"):
        unmerge(store, ids["a"], ids["c"])
    with pytest.raises(NotFound, match="not merged"):
        unmerge(store, ids["a"], ids["d"])


def test_projection_collapses_a_group_keeping_every_reference(
        any_store: Store, tmp_path: Path) -> None:
    case, ids = _case()
    store = case.ingest(any_store, tmp_path / "case")
    merge(store, ids["b"], ids["a"], "same person")
    graph = store.project()
    a, b = sorted((ids["a"], ids["b"]))
    assert a in graph and b not in graph
    assert graph.nodes[a]["same_as"] == [b]
    assert graph.has_edge(a, ids["device"], "USES") and graph.has_edge(a, ids["phone"], "USES")
    moved = f"USES:{a}->{ids['phone']}"
    assert original_ids(graph, moved) == [f"USES:{ids['b']}->{ids['phone']}"]
    assert sightings(store, graph, moved) == store.provenance(f"USES:{ids['b']}->{ids['phone']}")
    assert sightings(store, graph, a) == store.provenance(a) + store.provenance(b)
    assert SAME_AS not in {k for _, _, k in graph.edges(keys=True)}


def test_cells_treat_a_merged_pair_as_one_agent(tmp_path: Path) -> None:
    from ringmap.graphs.embedded import EmbeddedStore

    case, ids = _case()
    store = case.ingest(EmbeddedStore(tmp_path / "case.db"), tmp_path / "case")
    settings = CellSettings(runs=1)
    apart = detect_cells(store, settings)
    assert sorted(sorted(c.members) for c in apart.cells) == sorted(
        sorted(pair) for pair in ((ids["a"], ids["c"]), (ids["b"], ids["d"])))
    merge(store, ids["a"], ids["b"], "same person")
    together = detect_cells(store, settings)
    assert project_agents(store.project()).units == sorted([ids["a"], ids["c"], ids["d"]])
    assert [sorted(c.members) for c in together.cells] == [sorted([ids["a"], ids["c"], ids["d"]])]
    # the raid package lists the group once, with every reference it holds
    saved = write_cells(store, together)
    export_cell(store, saved.cells[0]["cell"], tmp_path / "package")
    with (tmp_path / "package" / "persons.csv").open(encoding="utf-8", newline="") as handle:
        persons = {r["id"]: r for r in csv.DictReader(handle)}
    assert ids["b"] not in persons and persons[ids["a"]]["same_as"] == ids["b"]


def test_groups_are_transitive_and_canonical_is_the_smallest_id() -> None:
    groups = SameAsGroups([("Person:C", "Person:B"), ("Person:B", "Person:A")])
    assert groups.groups() == [["Person:A", "Person:B", "Person:C"]]
    assert groups.canonical("Person:C") == "Person:A"


def test_named_queries_see_a_merged_group_as_one_person(any_store: Store, tmp_path: Path) -> None:
    case, ids = _case()
    store = case.ingest(any_store, tmp_path / "case")

    def users(identifier: str) -> list[str]:
        rows = run_named(store, "who-used-identifier", {"identifier": identifier}).rows
        return sorted({str(r["user"]) for r in rows})

    def shared() -> list[str]:
        rows = run_named(store, "shared-identifiers", {"a": ids["b"], "b": ids["c"]}).rows
        return [str(r["identifier"]) for r in rows]

    assert users(ids["phone"]) == sorted([ids["b"], ids["d"]])
    assert ids["device"] not in shared()
    merge(store, ids["a"], ids["b"], "same person")
    group = min(ids["a"], ids["b"])
    assert users(ids["phone"]) == sorted([group, ids["d"]])
    assert ids["device"] in shared()  # asked under B, answered for A too

"""The store contract, run against every store."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from ringmap.errors import StoreError
from ringmap.graphs import neo4j_cells
from ringmap.graphs.model import (
    AnalysisRun,
    Batch,
    CellMember,
    CellRecord,
    Edge,
    FileLoad,
    Grading,
    IngestRun,
    Node,
    Sighting,
    Tie,
    edge_id,
)
from ringmap.graphs.sameas import merge
from ringmap.graphs.store import PackedGraph, Store
from ringmap.tests.reports import a_report

StoreFactory = Callable[[], Store]

HOSTILE = "x' WITH 1 AS a MATCH (n) DETACH DELETE n //</script>"


def _load(sha: str = "a" * 64, source: str = "calls.csv") -> FileLoad:
    return FileLoad(sha256=sha, source_file=source, mapping="calls", mapping_digest="m1",
                    run_id="run-1", grading=Grading.parse("B2"), read=3, loaded=3)


def _batch() -> Batch:
    agent = Node("Person:AG-1", "Person", {"person_id": "AG-1", "role": "suspect",
                                           "name": HOSTILE})
    account = Node("Account:facebook/maria", "Account",
                   {"platform": "facebook", "handle": "maria"})
    phone = Node("Phone:+639171234567", "Phone", {"number": "+639171234567"})
    seen = datetime(2014, 4, 30, 8, 15, tzinfo=UTC)
    edges = [
        Edge("USES", agent.id, account.id),
        Edge("REGISTERED_TO", account.id, phone.id, {"count": 2}),
        Edge("CONTACTED", account.id, account.id, {"first_seen": seen}),
    ]
    sightings = [Sighting(agent.id, 1, "EX-1"), Sighting(account.id, 1, "EX-1"),
                 Sighting(edges[0].id, 1, "EX-1"), Sighting(account.id, 2),
                 Sighting(phone.id, 2), Sighting(edges[1].id, 2), Sighting(edges[2].id, 3)]
    return Batch([agent, account, phone], edges, sightings, last_row=3)


def test_empty_store_counts_nothing(any_store: Store) -> None:
    counts = any_store.counts()
    assert counts.total_nodes == 0 and counts.total_relationships == 0
    assert any_store.get("Person:nobody") is None
    assert any_store.provenance("Person:nobody") == []


def test_load_then_read_back(any_store: Store) -> None:
    done = any_store.load_file(_load(), [_batch()])
    assert done.complete
    counts = any_store.counts()
    assert counts.nodes == {"Account": 1, "Person": 1, "Phone": 1}
    assert counts.relationships == {"CONTACTED": 1, "REGISTERED_TO": 1, "USES": 1}
    agent = any_store.get("Person:AG-1")
    assert agent is not None and agent.props["name"] == HOSTILE  # stored literally
    assert [n.id for n in any_store.nodes(["Phone", "Person"])] == [
        "Person:AG-1", "Phone:+639171234567"]
    edges = list(any_store.edges())
    assert [(e.type, e.src, e.dst) for e in edges] == [
        ("CONTACTED", "Account:facebook/maria", "Account:facebook/maria"),
        ("REGISTERED_TO", "Account:facebook/maria", "Phone:+639171234567"),
        ("USES", "Person:AG-1", "Account:facebook/maria"),
    ]
    assert edges[0].props["first_seen"] == datetime(2014, 4, 30, 8, 15, tzinfo=UTC)
    assert edges[1].props == {"count": 2}


def test_neighbours_both_directions(any_store: Store) -> None:
    any_store.load_file(_load(), [_batch()])
    pairs = any_store.neighbours("Account:facebook/maria")
    assert [(e.type, n.id) for e, n in pairs] == [
        ("CONTACTED", "Account:facebook/maria"),
        ("REGISTERED_TO", "Phone:+639171234567"),
        ("USES", "Person:AG-1"),
    ]
    only = any_store.neighbours("Account:facebook/maria", ["USES"])
    assert [n.id for _, n in only] == ["Person:AG-1"]


def test_provenance_of_nodes_and_edges(any_store: Store) -> None:
    any_store.load_file(_load(), [_batch()])
    prov = any_store.provenance("Account:facebook/maria")
    assert [(p.source_file, p.row, p.ref) for p in prov] == [
        ("calls.csv", 1, "EX-1"), ("calls.csv", 2, None)]
    assert prov[0].grading == Grading(scheme="admiralty", grade="B2")
    assert prov[0].sha256 == "a" * 64 and prov[0].run_id == "run-1"
    edge_prov = any_store.provenance("USES:Person:AG-1->Account:facebook/maria")
    assert [(p.row, p.ref) for p in edge_prov] == [(1, "EX-1")]


def test_repeated_sightings_merge(any_store: Store) -> None:
    any_store.load_file(_load(), [_batch()])
    again = Batch([Node("Phone:+639171234567", "Phone", {"number": "+639171234567",
                                                         "carrier": "Globe"})],
                  [], [Sighting("Phone:+639171234567", 7)], last_row=7)
    any_store.load_file(_load("b" * 64, "sims.csv"), [again])
    assert any_store.counts().nodes["Phone"] == 1
    phone = any_store.get("Phone:+639171234567")
    assert phone is not None and phone.props == {"number": "+639171234567", "carrier": "Globe"}
    assert [p.source_file for p in any_store.provenance(phone.id)] == ["calls.csv", "sims.csv"]


def test_ledger_and_runs(any_store: Store) -> None:
    assert any_store.file_load("a" * 64, "m1") is None
    any_store.load_file(_load(), [_batch()])
    record = any_store.file_load("a" * 64, "m1")
    assert record is not None and record.complete and record.loaded == 3
    assert any_store.file_load("a" * 64, "other-mapping") is None
    any_store.record_run(IngestRun(run_id="run-1", command="ingest", files=["a" * 64]))
    assert [r.run_id for r in any_store.runs()] == ["run-1"]
    assert [f.source_file for f in any_store.file_loads()] == ["calls.csv"]


def test_failed_load_leaves_nothing(store_factory: StoreFactory) -> None:
    store = store_factory()

    def failing() -> Iterator[Batch]:
        yield _batch()
        raise KeyboardInterrupt  # the process is interrupted mid-file

    with pytest.raises(KeyboardInterrupt):
        store.load_file(_load(), failing())
    record = store.file_load("a" * 64, "m1")
    assert record is None or not record.complete
    # a rerun completes the file
    store.load_file(_load(), [_batch()])
    assert store.counts().total_nodes == 3
    record = store.file_load("a" * 64, "m1")
    assert record is not None and record.complete


def test_project_filters_types(any_store: Store) -> None:
    any_store.load_file(_load(), [_batch()])
    graph = any_store.project(node_types=["Person", "Account"])
    assert sorted(graph.nodes) == ["Account:facebook/maria", "Person:AG-1"]
    assert graph.nodes["Person:AG-1"]["type"] == "Person"
    assert sorted(graph.edges(keys=True)) == [
        ("Account:facebook/maria", "Account:facebook/maria", "CONTACTED"),
        ("Person:AG-1", "Account:facebook/maria", "USES"),
    ]


def test_cells_round_trip(any_store: Store) -> None:
    assert any_store.latest_cells() is None
    cells = [CellRecord(cell_id="C01", members=[
        CellMember(node_id="Person:AG-1", confidence=0.9, explanation=[Tie(
            kind="Phone", identifier="Phone:+639171234567", label="+639171234567", weight=1.0,
            shared_by=2, in_cell=2)])],
        summary=a_report(persons=["Person:AG-1"]))]
    any_store.save_cells(AnalysisRun(run_id="cells-1", params={"seed": 1}), cells)
    any_store.save_cells(AnalysisRun(run_id="cells-2", params={"seed": 2}), cells)
    latest = any_store.latest_cells()
    assert latest is not None
    run, loaded = latest
    assert run.run_id == "cells-2" and run.params == {"seed": 2}
    assert loaded == cells
    assert [r.run_id for r in any_store.analysis_runs()] == ["cells-1", "cells-2"]


def test_issue_16_cells_read_back_without_explanations(any_store: Store) -> None:
    tie = Tie(kind="Phone", identifier="Phone:+639171234567", label=HOSTILE, weight=0.1 + 0.2,
              shared_by=2, in_cell=2)
    cells = [CellRecord(cell_id=cell, members=[
        CellMember(node_id=f"Person:{who}", confidence=confidence, explanation=[tie] * ties)
        for who, confidence, ties in members], summary=summary)
        for cell, members, summary in [
            ("C02", [("AG-9", 1 / 3, 2), ("AG-1", 0.1 + 0.7, 0)], a_report(persons=["AG-9"])),
            ("C01", [("AG-2", 1.0, 1)], None)]]
    any_store.save_cells(AnalysisRun(run_id="cells-1", params={}), cells)
    bare = [c.model_copy(update={"members": [m.model_copy(update={"explanation": []})
                                             for m in c.members]}) for c in cells[::-1]]
    assert any_store.load_cells("cells-1", explanations=False) == bare
    assert any_store.load_cells("cells-1") == cells[::-1]
    latest = any_store.latest_cells(explanations=False)
    assert latest is not None and latest[1] == bare


def test_issue_16_cells_read_back_with_only_the_figures_maps_draw(any_store: Store) -> None:
    """issue 16: the overview and victims maps read each cell's figures, not its report
    (whole reports were 0.14 GB of the maps' 0.48 GB at 600 cells on Neo4j)."""
    report = a_report(persons=["Person:AG-9"], victims=3, victims_by_country={"GB": 2, "US": 1})
    cells = [CellRecord(cell_id="C01", members=[CellMember(
        node_id="Person:AG-9", confidence=0.5, explanation=[Tie(
            kind="Phone", identifier="Phone:+639171234567", label=HOSTILE, weight=1.0,
            shared_by=2, in_cell=2)])], summary=report),
        CellRecord(cell_id="C02", members=[CellMember(node_id="Person:AG-2", confidence=1.0)])]
    any_store.save_cells(AnalysisRun(run_id="cells-1", params={}), cells)
    sketched = any_store.load_cells("cells-1", explanations=False, reports=False)
    assert [(c.cell_id, c.members, c.summary) for c in sketched] == [
        ("C01", [CellMember(node_id="Person:AG-9", confidence=0.5)], None),
        ("C02", cells[1].members, None)]
    figures = sketched[0].figures
    assert figures is not None and sketched[1].figures is None
    assert (figures.agents, figures.victims, figures.victims_by_country, figures.money) == (
        report.agents, report.victims, report.victims_by_country, report.money)
    assert "figures" not in sketched[0].model_dump()  # a view of the report, never saved
    latest = any_store.latest_cells(explanations=False, reports=False)
    assert latest is not None and latest[1] == sketched


def test_issue_14_cells_read_by_their_ids(any_store: Store) -> None:
    """issue 14: `cells --members` reads every member's explanation a few cells at a time,
    not the whole run at once (0.26 GB at 600 cells)."""
    tie = Tie(kind="Phone", identifier="Phone:+639171234567", label=HOSTILE, weight=1.0,
              shared_by=2, in_cell=2)
    cells = [CellRecord(cell_id=f"C{n:02d}", members=[
        CellMember(node_id=f"Person:AG-{n}", confidence=1.0, explanation=[tie])])
        for n in range(4)]
    any_store.save_cells(AnalysisRun(run_id="cells-1", params={}), cells)
    any_store.save_cells(AnalysisRun(run_id="cells-2", params={}), cells[:1])
    # in cell order, each once, only those of the run
    assert any_store.load_cells("cells-1", cell_ids=["C03", "C01", "C09", "C03"]) == [
        cells[1], cells[3]]
    assert any_store.load_cells("cells-2", cell_ids=["C01"]) == []
    assert any_store.load_cells("cells-1", cell_ids=[]) == []
    bare = cells[2].model_copy(update={"members": [
        m.model_copy(update={"explanation": []}) for m in cells[2].members]})
    assert any_store.load_cells("cells-1", explanations=False, cell_ids=iter(["C02"])) == [
        bare]


def test_issue16_cells_saved_as_they_are_made_and_their_run_after_them(
        any_store: Store) -> None:
    run = AnalysisRun(run_id="cells-1", params={}, summary={})
    made: list[CellRecord] = []

    def cells() -> Iterator[CellRecord]:
        for n in range(3):
            made.append(CellRecord(cell_id=f"C{n:02d}", members=[
                CellMember(node_id=f"Person:AG-{n}", confidence=1.0)]))
            yield made[-1]
        run.summary["evidence"] = "complete"  # known only once every cell is made

    any_store.save_cells(run, cells())
    latest = any_store.latest_cells()
    assert latest is not None
    assert latest[0].summary == {"evidence": "complete"} and latest[1] == made


def test_issue_14_a_run_written_in_parts_reads_back_as_written(
        any_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """issue 14: Neo4j writes a run's cells in parts (here a few KB each), the embedded store
    in one transaction; both read back the very records written, members linked."""
    monkeypatch.setattr(neo4j_cells, "PART_BYTES", 4096)
    cells = [CellRecord(cell_id=f"C{n:03d}", members=[
        CellMember(node_id=f"Person:AG-{n}-{m}", confidence=(m + 1) / 7, explanation=[Tie(
            kind="Phone", identifier=f"Phone:+6391712{n:05d}", label=HOSTILE + "\u00e9" * n,
            weight=0.1 + 0.2, shared_by=2, in_cell=2)] * (n % 3)) for m in range(n % 5 + 1)],
        summary=a_report(persons=[f"Person:AG-{n}-0"]) if n % 4 else None)
        for n in range(40)]
    run = AnalysisRun(run_id="cells-1", params={"seed": 1}, summary={"evidence": "complete"})
    any_store.save_cells(run, iter(cells))
    assert any_store.analysis_runs() == [run]
    assert any_store.load_cells("cells-1") == cells


def test_repeated_contacts_widen_their_time_span(any_store: Store) -> None:
    a, b = "Account:facebook/maria", "Account:skype/live:v1"
    nodes = [Node(a, "Account", {"platform": "facebook", "handle": "maria"}),
             Node(b, "Account", {"platform": "skype", "handle": "live:v1"})]

    def contact(sha: str, first: int, last: int, count: int) -> None:
        edge = Edge("CONTACTED", a, b, {
            "first_seen": datetime(2014, 3, first, tzinfo=UTC),
            "last_seen": datetime(2014, 3, last, tzinfo=UTC), "count": count})
        any_store.load_file(_load(sha, f"{sha[0]}.csv"),
                            [Batch(nodes, [edge], [Sighting(edge.id, 1)], last_row=1)])

    contact("a" * 64, 10, 12, 5)
    contact("b" * 64, 2, 11, 3)
    contact("c" * 64, 11, 20, 1)
    (edge,) = any_store.edges(["CONTACTED"])
    assert edge.props == {"first_seen": datetime(2014, 3, 2, tzinfo=UTC),
                          "last_seen": datetime(2014, 3, 20, tzinfo=UTC), "count": 5}
    assert len(any_store.provenance(edge.id)) == 3


def test_unhashable_property_values_load(any_store: Store) -> None:
    """Regression: skipping unchanged writes hashed properties and crashed on a set value."""
    node = Node("Device:SN:ABC123", "Device", {"device_id": "SN:ABC123", "kind": "laptop",
                                                "aliases": {"b", "a"}})
    any_store.load_file(_load(), [Batch([node], [], [Sighting(node.id, 1)], last_row=1)])
    stored = any_store.get(node.id)
    assert stored is not None and stored.props["aliases"] == ["a", "b"]


def _graded(store: Store) -> Edge:
    """Three loads of three gradings, one relationship seen by two of them; returns the
    relationship only the E5 tip saw."""
    store.load_file(_load(), [_batch()])
    tip = Edge("USES", "Person:AG-1", "Phone:+639171234567")
    tip_load = _load("c" * 64, "tip.csv").model_copy(update={"grading": Grading.parse("E5")})
    store.load_file(tip_load, [Batch([], [tip], [Sighting(tip.id, 4)], last_row=4)])
    again = _load("d" * 64, "again.csv").model_copy(update={"grading": Grading.parse("A1")})
    uses = "USES:Person:AG-1->Account:facebook/maria"
    store.load_file(again, [Batch([], [Edge("USES", "Person:AG-1", "Account:facebook/maria")],
                                  [Sighting(uses, 9)], last_row=9)])
    return tip


def test_edge_gradings_in_one_pass(any_store: Store) -> None:
    tip = _graded(any_store)
    uses = "USES:Person:AG-1->Account:facebook/maria"
    gradings = any_store.edge_gradings()
    assert gradings[tip.id] == {Grading.parse("E5")}
    assert gradings[uses] == {Grading.parse("B2"), Grading.parse("A1")}
    assert gradings["REGISTERED_TO:Account:facebook/maria->Phone:+639171234567"] == {
        Grading.parse("B2")}


def test_issue16_packed_gradings_are_edge_gradings_aligned_with_the_packed_edges(
        any_store: Store) -> None:
    _graded(any_store)
    packed = any_store.packed()
    codes, sets = any_store.packed_gradings(packed)
    by_id = any_store.edge_gradings()
    assert len(codes) == len(packed.src)
    found = {edge_id(packed.rel_names[r], packed.ids[s], packed.ids[d]):
             sets[c] if c >= 0 else frozenset() for r, s, d, c in zip(
                 packed.rel.tolist(), packed.src.tolist(), packed.dst.tolist(),
                 codes.tolist(), strict=True)}
    assert found == {eid: by_id.get(eid, frozenset()) for eid in found}
    assert set(by_id) <= set(found) and {Grading.parse("E5")} in sets


def test_issue_14_get_many_reads_what_get_reads(any_store: Store) -> None:
    """issue 14: many nodes read at once (Neo4j: one statement per label, not a round trip
    per node) are those read one by one, in the order asked, each once."""
    any_store.load_file(_load(), [_batch()])
    asked = ["Phone:+639171234567", "Person:nobody", "Account:facebook/maria", "not an id",
             "Person:AG-1", "Phone:+639171234567", HOSTILE]
    found = any_store.get_many(asked)
    assert list(found) == ["Phone:+639171234567", "Account:facebook/maria", "Person:AG-1"]
    assert found == {node_id: any_store.get(node_id) for node_id in found}
    assert any_store.get_many([]) == {}


def _plain(packed: PackedGraph) -> tuple[object, ...]:
    """Everything a packed graph says, as plain values (properties in name order: Neo4j
    keeps them in the order they were written)."""
    return (packed.ids, [packed.type_names[t] for t in packed.node_type.tolist()],
            [sorted(packed.node_props(i).items()) for i in range(len(packed.ids))],
            [(packed.rel_names[r], s, d) for r, s, d in zip(
                packed.rel.tolist(), packed.src.tolist(), packed.dst.tolist(), strict=True)],
            [sorted(packed.edge_props(j).items()) for j in range(len(packed.src))],
            [(link.type, link.src, link.dst) for link in packed.same_as])


@pytest.mark.parametrize(("node_types", "rel_types"), [
    (None, None), (["Person", "Account"], ["USES", "CONTACTED", "SAME_AS"])])
def test_issue_14_the_packed_read_is_the_nodes_and_relationships_as_arrays(
        any_store: Store, node_types: list[str] | None, rel_types: list[str] | None) -> None:
    """issue 14: a store's own packed read (Neo4j's by database ids, the embedded store's by
    row ids) gives what its nodes and relationships read one by one give, value for value
    and type for type."""
    _graded(any_store)
    device = Node("Device:SN:ABC123", "Device", {"device_id": "SN:ABC123", "kind": "laptop",
                                                "aliases": {"b", "a"}, "note": "é\n\u2028"})
    other = Node("Person:AG-2", "Person", {"person_id": "AG-2", "role": "suspect",
                                           "birth_year": 1990, "score": 0.5})
    uses = Edge("USES", other.id, device.id)
    any_store.load_file(_load("e" * 64, "more.csv"), [Batch(
        [device, other], [uses], [Sighting(device.id, 1), Sighting(uses.id, 1)],
        last_row=1)])
    merge(any_store, "Person:AG-1", other.id, "same passport")
    packed = any_store.packed(node_types, rel_types)
    assert len(packed.src) > 0 and packed.same_as
    generic = Store._packed(any_store, None if node_types is None else sorted(node_types),
                            None if rel_types is None else sorted(set(rel_types) - {"SAME_AS"}))
    assert repr(_plain(packed)) == repr(_plain(generic))


def test_provenance_many_matches_one_by_one(any_store: Store) -> None:
    any_store.load_file(_load(), [_batch()])
    items = ["Account:facebook/maria", "USES:Person:AG-1->Account:facebook/maria",
             "REGISTERED_TO:Account:facebook/maria->Phone:+639171234567", "Phone:+639171234567",
             "Person:nobody", "USES:Person:AG-1->Phone:+639171234567", "not an id"]
    many = any_store.provenance_many(items)
    assert many == {item: any_store.provenance(item) for item in items
                    if any_store.provenance(item)}
    assert set(many) == set(items[:4])
    # issue 16: a map shows the first sightings of each item and how many there are
    first = any_store.provenance_first(items, 1)
    assert first == {item: (rows[:1], len(rows)) for item, rows in many.items()}


def test_issue_16_first_sightings_are_those_in_order_whatever_order_rows_came_in(
        any_store: Store) -> None:
    """issue 16: a map shows the first three sightings of an item and how many there are in
    all, without making every sighting of a hub; the rows that saw it are kept as they came
    (several batches and files, out of order, a row twice), and the first are still those of
    the ordered list, the count that of the distinct sightings."""
    node = Node("Phone:+639171234567", "Phone", {"number": "+639171234567"})
    for sha, source, batches in (("b" * 64, "later.csv", [[40, 2, 31], [15, 9, 2]]),
                                 ("a" * 64, "first.csv", [[12, 3], [7]])):
        any_store.load_file(_load(sha, source), [
            Batch([node], [], [Sighting(node.id, row) for row in rows], last_row=last)
            for last, rows in enumerate(batches, start=100)])
    every = any_store.provenance_many([node.id])[node.id]
    assert len(every) == 8 and len({(p.source_file, p.row) for p in every}) == 8
    for first in (1, 3, 5, 6, 9):
        assert any_store.provenance_first([node.id], first) == {
            node.id: (every[:first], len(every))}


@pytest.mark.parametrize("first", [1, 3])
def test_provenance_first_across_files(any_store: Store, first: int) -> None:
    """issue 14: the Neo4j store read every sighting and every row reference of each item to
    show its first ones; it now reads only those, by file then row, with the total."""
    any_store.load_file(_load(), [_batch()])
    any_store.load_file(_load("b" * 64, "more.csv"), [_batch()])
    items = ["Account:facebook/maria", "USES:Person:AG-1->Account:facebook/maria",
             "Phone:+639171234567", "Person:nobody"]
    many = any_store.provenance_many(items)
    assert len(many["Account:facebook/maria"]) == 4
    found = any_store.provenance_first(items, first)
    assert found == {item: (rows[:first], len(rows)) for item, rows in many.items()}
    assert found["Account:facebook/maria"][0][0].ref == "EX-1"


@pytest.mark.parametrize(("node", "why"), [
    (Node("PaymentCard:4111111111111111", "PaymentCard", {"card_hash": "4111111111111111"}),
     "PaymentCard key is not a keyed hash"),
    (Node("Person:4111 1111 1111 1111", "Person", {"person_id": "4111 1111 1111 1111"}),
     "Person key holds a card number (411111******1111)"),
    (Node("Device:SN:4111111111111111", "Device", {"device_id": "SN:4111111111111111"}),
     "Device key holds a card number"),
])
def test_issue_9_a_key_holding_a_card_number_is_refused(any_store: Store, node: Node,
                                                        why: str) -> None:
    """issue 9: nothing kept any store from holding a card number in clear as a node key."""
    batch = _batch()
    batch.nodes.append(node)
    with pytest.raises(StoreError, match=re.escape(why)) as caught:
        any_store.load_file(_load(), [batch])
    assert "4111111111111111" not in str(caught.value)
    assert any_store.get(node.id) is None and any_store.get("Person:AG-1") is None


def test_imeis_iccids_and_keyed_hashes_are_stored(any_store: Store) -> None:
    batch = _batch()
    batch.nodes += [Node("Device:356938035643809", "Device", {"device_id": "356938035643809"}),
                    Node("SimCard:8963012345678901234", "SimCard",
                         {"iccid": "8963012345678901234"}),
                    Node("PaymentCard:" + "0f" * 16, "PaymentCard", {"card_hash": "0f" * 16})]
    any_store.load_file(_load(), [batch])
    assert all(any_store.get(n.id) is not None for n in batch.nodes)

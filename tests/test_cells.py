"""Cell detection: invariants on seeded planted cells, explanations, write-back round trip."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import igraph as ig
import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringmap.analysis.cells import (
    CellSettings,
    detect_cells,
    edge_reliability,
    find_cells,
)
from ringmap.analysis.community import (
    Detector,
    Method,
    co_assignment,
    detect,
    scan_resolution,
    size_plausibility,
    split_disconnected,
)
from ringmap.analysis.explain import EvidenceReader, write_cells
from ringmap.analysis.projection import AgentGraph, add_ties, project_agents
from ringmap.analysis.quality import adjusted_rand_index, normalised_mutual_information
from ringmap.errors import AnalysisError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import edge_id
from ringmap.graphs.sameas import merge
from ringmap.privacy import Privacy
from ringmap.testing import CaseBuilder
from ringmap.tests.cells_synth import Planted, planted_case

FAST = CellSettings(runs=3)


@pytest.fixture
def case() -> Planted:
    return planted_case(6, seed=11, noise=0.1)


def _score(case: Planted, cell_of: dict[str, str]) -> float:
    keys = sorted(case.truth)
    return adjusted_rand_index([case.truth[k] for k in keys],
                               [cell_of.get(k, f"none:{k}") for k in keys])


@pytest.mark.parametrize("method", ["leiden", "louvain", "lpa"])
def test_each_agent_in_exactly_one_connected_cell(case: Planted, method: str) -> None:
    result = find_cells(case.graph, CellSettings(method=method, runs=2))
    seen = Counter(m for c in result.cells for m in c.members)
    assert max(seen.values()) == 1
    assert not set(seen) & set(result.unassigned)
    assert set(seen) | set(result.unassigned) == set(case.truth)
    for cell in result.cells:
        assert result.agents.graph.induced_subgraph(cell.units).is_connected()
        assert all(0.0 <= c <= 1.0 for c in cell.members.values())


def test_same_seed_same_cells_and_planted_cells_found(case: Planted) -> None:
    one, two = find_cells(case.graph, FAST), find_cells(case.graph, FAST)
    assert one.cell_of() == two.cell_of()
    assert _score(case, one.cell_of()) > 0.9


def test_hubs_do_not_fuse_planted_cells() -> None:
    # every account of every cell logs in from the same two carrier IPs
    case = planted_case(6, seed=3, noise=0.0, cgnat_share=1.0)
    result = find_cells(case.graph, FAST)
    for cell in result.cells:
        planted = {case.truth[m] for m in cell.members}
        assert len(planted) == 1, f"{cell.cell_id} fuses planted cells {planted}"


def test_lonely_agents_are_unassigned() -> None:
    case = planted_case(2, seed=4, noise=0.0)
    case.graph.add_node("Person:loner", type="Person", role="suspect")
    result = find_cells(case.graph, FAST)
    assert result.unassigned == ["Person:loner"]


def test_no_evidence_or_no_suspects_is_an_analysis_error() -> None:
    with pytest.raises(AnalysisError, match="no evidence"):
        find_cells(nx.MultiDiGraph())
    g = nx.MultiDiGraph()
    g.add_node("Person:v", type="Person", role="victim")
    with pytest.raises(AnalysisError, match="no suspects"):
        find_cells(g)


def test_fixed_resolution_is_used_as_given(case: Planted) -> None:
    result = find_cells(case.graph, CellSettings(resolution=2.5, runs=1))
    assert result.resolution == 2.5
    assert result.scan == []


def test_split_disconnected_and_plausibility() -> None:
    g = ig.Graph(n=5, edges=[(0, 1), (2, 3)])
    assert split_disconnected(g, [0, 0, 0, 0, 1]) == [0, 0, 1, 1, 2]
    # cells of 2 are implausible (min 3) unless they are a whole component
    assert size_plausibility([0, 0, 1, 1, 2], [0, 0, 1, 1, 2], 3, 10) == 1.0
    assert size_plausibility([0, 1, 2, 2, 2], [0, 0, 0, 0, 0], 3, 10) == 0.6


def test_co_assignment_confidence() -> None:
    assert co_assignment([0, 0, 0], [[0, 0, 0], [0, 0, 1]]) == [0.75, 0.75, 0.5]
    assert co_assignment([0, 1], [[0, 1], [0, 0]]) == [0.5, 0.5]


def _co_assignment_per_vertex(final: list[int], runs: list[list[int]]) -> list[float]:
    """The Python loop per vertex that :func:`co_assignment` replaced (the oracle)."""
    members: dict[int, list[int]] = {}
    for v, label in enumerate(final):
        members.setdefault(label, []).append(v)
    confidence = [0.0] * len(final)
    for run in runs:
        run_sizes = Counter(run)
        for cell in members.values():
            if len(cell) == 1:
                confidence[cell[0]] += 1.0 if run_sizes[run[cell[0]]] == 1 else 0.0
                continue
            counts = Counter(run[v] for v in cell)
            for v in cell:
                confidence[v] += (counts[run[v]] - 1) / (len(cell) - 1)
    return [c / len(runs) if runs else 1.0 for c in confidence]


@given(st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 6), min_size=n, max_size=n),
    st.lists(st.lists(st.integers(0, 9), min_size=n, max_size=n), max_size=5))))
def test_co_assignment_matches_the_loop_per_vertex(
        drawn: tuple[list[int], list[list[int]]]) -> None:
    # issue 16: numpy per run; the same floats as the loop, to the last bit
    final, runs = drawn
    assert co_assignment(final, runs) == _co_assignment_per_vertex(final, runs)


def test_detection_runs_each_resolution_and_seed_once(case: Planted) -> None:
    # issue 16: the consensus's first seed at the chosen resolution is the scan's run there,
    # handed back instead of run again (a whole-graph Leiden run at 5,400 cells)
    asked: list[tuple[float, int]] = []

    @contextmanager
    def recording(agents: AgentGraph) -> Iterator[Detector]:
        add_ties(agents)

        def run(runs: Sequence[tuple[float, int]]) -> list[list[int]]:
            asked.extend(runs)
            return [detect(agents.graph, "leiden", r, s) for r, s in runs]

        yield run

    settings = CellSettings(runs=4)
    recorded = find_cells(case.graph, settings, detection=recording)
    assert len(asked) == len(set(asked)) == len(recorded.scan) + settings.runs - 1
    plain = find_cells(case.graph, settings)
    assert (recorded.membership, recorded.confidence) == (plain.membership, plain.confidence)


def test_detect_is_deterministic_per_seed() -> None:
    g = ig.Graph.Famous("Zachary")
    g.es["weight"] = 1.0
    methods: list[Method] = ["leiden", "louvain", "lpa"]
    for method in methods:
        assert detect(g, method, 1.0, seed=3) == detect(g, method, 1.0, seed=3)


def test_ari_and_nmi_match_known_values() -> None:
    # ARI by hand: (2 - 6*3/15) / (4.5 - 6*3/15); NMI: (2/3 ln 2) / ((ln 2 + ln 3) / 2)
    a, b = [0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]
    assert adjusted_rand_index(a, b) == pytest.approx(0.24242424, abs=1e-6)
    assert normalised_mutual_information(a, b) == pytest.approx(0.51580374, abs=1e-6)
    assert adjusted_rand_index(a, list(reversed(a))) == 1.0
    assert normalised_mutual_information([0, 1, 2], [0, 0, 0]) == 0.0
    with pytest.raises(ValueError, match="length"):
        adjusted_rand_index([0], [0, 1])


def _stored() -> Planted:
    return planted_case(3, seed=8, noise=0.0)


@pytest.fixture
def stored(tmp_path: Path) -> EmbeddedStore:
    return _stored().builder.ingest(EmbeddedStore(tmp_path / "case.db"), tmp_path / "evidence")


def test_write_back_round_trip_with_explanations(stored: EmbeddedStore, tmp_path: Path) -> None:
    result = detect_cells(stored, FAST)
    saved_cells = write_cells(stored, result)
    run, records = saved_cells.run, saved_cells.records
    latest = stored.latest_cells()
    assert latest is not None
    saved_run, saved = latest
    assert saved_run.run_id == run.run_id
    assert saved_run.params["seed"] == FAST.seed
    assert saved_run.params["resolution_used"] == result.resolution
    assert saved_run.summary["grading"] == "uniform"
    # issue 16: returned without their explanations, saved with them
    unexplained = {"members": {"__all__": {"explanation"}}}
    assert [r.model_dump(exclude=unexplained) for r in saved] == [
        r.model_dump(exclude=unexplained) for r in records]
    assert not any(m.explanation for r in records for m in r.members)
    for record in saved:
        for member in record.members:
            assert member.explanation, f"{member.node_id} is not explained"
            tie = member.explanation[0]
            assert tie.evidence, f"{member.node_id}: no provenance"
            row = tie.evidence[0]
            seen = _stored().builder.where(row.item)
            assert row.file == str(tmp_path / "evidence" / seen.file)
            assert (row.row, row.ref, row.grading) == (seen.row, seen.ref, "admiralty:B2")
    # each run is kept
    write_cells(stored, result)
    assert len(stored.analysis_runs("cells")) == 2


def test_explanations_never_name_victims(stored: EmbeddedStore) -> None:
    records = stored.load_cells(write_cells(stored, detect_cells(stored, FAST)).run.run_id)
    text = str([r.model_dump() for r in records])
    victims = [n.id for n in stored.nodes(["Person"]) if n.props.get("role") == "victim"]
    assert victims and not any(f"'{v}'" in text or f"->{v}'" in text for v in victims)
    assert "Person:V-" in text  # victim ties are shown under pseudonyms


def test_single_low_graded_link_does_not_join_cells(tmp_path: Path) -> None:
    store = planted_case(2, seed=9, noise=0.0).builder.ingest(
        EmbeddedStore(tmp_path / "graded.db"), tmp_path / "evidence")
    # an E5 tip-off says an agent of cell 0 used a device of cell 1
    tip_off = CaseBuilder(grading="E5")
    tip = tip_off.link("USES", tip_off.person("c0p0"), tip_off.device("SN:C1D0"))
    tip_off.ingest(store, tmp_path / "tip")
    result = detect_cells(store, FAST)
    cell_of = result.cell_of()
    assert cell_of["Person:c0p0"] == cell_of["Person:c0p1"]
    assert cell_of["Person:c0p0"] != cell_of["Person:c1p0"]
    assert result.grading == "applied"
    reliability, _how = edge_reliability(store)
    assert reliability[tip] == pytest.approx(0.09)


def test_issue16_reliability_read_by_packed_position_weighs_as_by_id(tmp_path: Path) -> None:
    store = planted_case(2, seed=9, noise=0.0).builder.ingest(
        EmbeddedStore(tmp_path / "graded.db"), tmp_path / "evidence")
    tip_off = CaseBuilder(grading="E5")
    tip_off.link("USES", tip_off.person("c0p0"), tip_off.device("SN:C1D0"))
    tip_off.ingest(store, tmp_path / "tip")
    # a same-as group: relationships moved onto its head are no relationship of the store
    merge(store, "Person:c0p0", "Person:c0p1", "same passport", decided_by="analyst")
    evidence = store.evidence()
    by_position, how = edge_reliability(store, evidence)
    by_id, _how = edge_reliability(store)
    assert isinstance(by_position, np.ndarray) and how == "applied"
    packed = project_agents(evidence, reliability=by_position)
    assert packed.incidence == project_agents(store.project(), reliability=by_id).incidence
    assert 0.09 in {round(a.reliability, 6) for held in packed.incidence.values()
                    for a in held.values()}  # the tip weighs as its grading


def test_evidence_lookups_are_bounded(stored: EmbeddedStore) -> None:
    result = detect_cells(stored, CellSettings(runs=1, evidence_lookups=5))
    saved = write_cells(stored, result)
    run, records = saved.run, stored.load_cells(saved.run.run_id)
    assert run.summary["evidence"] == "rows for the first 5 lookups only"
    members = [m for r in records for m in r.members]
    assert all(m.explanation for m in members)  # still explained by their ties
    assert sum(1 for m in members for t in m.explanation if t.evidence) <= 5



def test_issue16_an_items_evidence_rows_are_built_once_and_shared(
        stored: EmbeddedStore) -> None:
    uses = next(stored.edges(["USES"]))
    item = edge_id("USES", uses.src, uses.dst)
    reader = EvidenceReader(stored, Privacy(reveal=True), rows_per_tie=2, budget=10)
    first, again = reader.rows((item,)), reader.rows((item,))
    assert [(r.item, r.file, r.row) for r in first] == [
        (item, p.source_file, p.row) for p in stored.provenance(item)][:2]
    assert first is not again and all(a is b for a, b in zip(first, again, strict=True))
    assert reader.lookups == 2  # each tie still counts against the budget

@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=40))
def test_ari_and_nmi_properties(pairs: list[tuple[int, int]]) -> None:
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_index(b, a))
    assert adjusted_rand_index(a, a) == 1.0
    renamed = [f"cell-{x * 7}" for x in a]  # labels are names, not numbers
    assert adjusted_rand_index(renamed, b) == pytest.approx(adjusted_rand_index(a, b))
    assert 0.0 <= normalised_mutual_information(a, b) <= 1.0
    assert normalised_mutual_information(a, b) == pytest.approx(
        normalised_mutual_information(b, a))


def test_agents_contacting_each_other_are_explained_by_the_contact(tmp_path: Path) -> None:
    case = planted_case(2, seed=6, noise=0.0).builder
    case.contact("Account:facebook/c0p0a0", "Account:facebook/c0p1a0")
    store = case.ingest(EmbeddedStore(tmp_path / "talk.db"), tmp_path / "evidence")
    records = store.load_cells(write_cells(store, detect_cells(
        store, CellSettings(runs=1, explain_top=50))).run.run_id)
    ties = [t for r in records for m in r.members for t in m.explanation
            if t.kind == "contact"]
    assert ties and ties[0].label.startswith("CONTACTED:Account:facebook/c0p")


def test_auto_resolution_undoes_the_resolution_limit() -> None:
    # the classic ring of 30 five-cliques: modularity at resolution 1 merges neighbours
    edges = []
    for c in range(30):
        base = 5 * c
        edges += [(base + i, base + j) for i in range(5) for j in range(i + 1, 5)]
        edges.append((base + 4, 5 * ((c + 1) % 30)))
    ring = ig.Graph(n=150, edges=edges)
    ring.es["weight"] = 1.0
    assert len(set(detect(ring, "leiden", 1.0, seed=1))) < 30
    resolution, points = scan_resolution(ring, "leiden", 1, 3, 40, FAST.scan, FAST.anchor)
    assert len(set(detect(ring, "leiden", resolution, seed=1))) == 30
    assert len({p.resolution for p in points}) == len(points)

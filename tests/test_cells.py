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
    Components,
    Detector,
    Method,
    co_assignment,
    consensus,
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
            return Components(agents.graph, agents.units).detector("leiden")(runs)

        yield run

    settings = CellSettings(runs=4)
    recorded = find_cells(case.graph, settings, detection=recording)
    assert len(asked) == len(set(asked)) == len(recorded.scan) + settings.runs - 1
    plain = find_cells(case.graph, settings)
    assert (recorded.membership, recorded.confidence) == (plain.membership, plain.confidence)


def _weighted(n: int, p: float, seed: int, prefix: str) -> tuple[ig.Graph, list[str]]:
    """A random graph of integer tie weights (their sums are exact) and its node ids, the
    same for the same ``seed`` (``ig.Graph.Erdos_Renyi`` draws from igraph's generator, which
    :func:`detect` leaves as Python's unseeded ``random``: a test's graph was another each run)."""
    rng = np.random.default_rng(seed)
    low, high = np.triu_indices(n, k=1)
    drawn = rng.random(len(low)) < p
    g = ig.Graph(n=n, edges=np.column_stack([low[drawn], high[drawn]]).tolist())
    g.es["weight"] = rng.integers(1, 5, g.ecount()).astype(float).tolist()
    return g, [f"{prefix}{v:03d}" for v in range(n)]


def _union(parts: Sequence[tuple[ig.Graph, list[str]]]) -> tuple[ig.Graph, list[str]]:
    graph = ig.disjoint_union([g for g, _ in parts])
    graph.es["weight"] = [w for g, _ in parts for w in g.es["weight"]]
    return graph, [name for _, names in parts for name in names]


def _modularity(graph: ig.Graph, membership: Sequence[int], resolution: float) -> float:
    return float(graph.modularity(membership, weights="weight", resolution=resolution))


def test_issue16_components_optimise_the_whole_graphs_modularity() -> None:
    # issue 16: each component runs at gamma_c = gamma * m_c / m, and the whole graph's
    # modularity at gamma of the combined partition is sum_c (m_c / m) Q_c(gamma_c)
    graph, names = _union([_weighted(40, 0.08, 1, "a"), _weighted(30, 0.15, 2, "b"),
                           _weighted(2, 1.0, 4, "c"), _weighted(1, 0.0, 5, "d"),
                           _weighted(25, 0.2, 3, "e")])
    parts = Components(graph, names)
    assert len(parts.vertices) == len(graph.connected_components())
    for resolution in (1.0, 3.0, 12.0):
        membership = parts.detector("leiden")([(resolution, 7)])[0]
        shares = 0.0
        for c, part, weight, _key in parts.runnable:
            local = [membership[v] for v in parts.vertices[c]]
            shares += weight / parts.total * _modularity(
                part, local, parts.resolution(resolution, weight))
        assert _modularity(graph, membership, resolution) == pytest.approx(shares, abs=1e-12)
        # the consensus keeps per component the best run: no run is better on the whole
        kept, _ = consensus(graph, "leiden", resolution, 7, 6, components=parts)
        runs = parts.detector("leiden")([(resolution, 7 + i) for i in range(6)])
        assert _modularity(graph, kept, resolution) >= max(
            _modularity(graph, run, resolution) for run in runs) - 1e-12


def test_issue16_a_lone_pair_is_what_leiden_makes_of_it() -> None:
    # a component of two agents and one tie is not run: together when gamma_c < 2
    pair = ig.Graph(n=2, edges=[(0, 1)])
    pair.es["weight"] = [3.0]
    for resolution in (0.5, 1.9, 2.0, 2.1, 5.0):
        alone = detect(pair, "leiden", resolution, seed=1)
        assert Components(pair).detector("leiden")([(resolution, 1)])[0] == [
            0, 0 if alone[0] == alone[1] else 1]


def test_issue16_a_components_cells_ignore_unrelated_components() -> None:
    # issue 16: a component's vertices are run in node-id order with a seed of its own, so
    # evidence added elsewhere leaves its communities as they were, wherever its vertices
    # fall in the whole graph. Here the evidence added is a copy of the same ties under other
    # ids, which doubles m: twice the resolution gives each component the same gamma_c
    shaky, names = _weighted(120, 0.05, 4, "m")
    order = list(np.random.default_rng(6).permutation(shaky.vcount()))
    moved = ig.Graph(n=shaky.vcount(), edges=[(order[a], order[b])  # v becomes order[v]
                                              for a, b in shaky.get_edgelist()])
    moved.es["weight"] = shaky.es["weight"]
    moved_names = [""] * len(names)
    for v, name in enumerate(names):
        moved_names[order[v]] = name
    both, both_names = _union([(shaky, [n.replace("m", "k") for n in names]),
                               (moved, moved_names)])
    assert len(both.connected_components()) == 2 * len(shaky.connected_components())
    alone = Components(shaky, names).detector("leiden")([(1.0, 3), (2.0, 9)])
    within = Components(both, both_names).detector("leiden")([(2.0, 3), (4.0, 9)])
    place = {name: v for v, name in enumerate(both_names)}
    for run, union_run in zip(alone, within, strict=True):
        assert adjusted_rand_index(run, [union_run[place[n]] for n in names]) == 1.0
    # one Leiden run on the whole graph instead gives other communities (why components)
    whole = detect(both, "leiden", 2.0, 3)
    assert adjusted_rand_index(detect(shaky, "leiden", 1.0, 3),
                               [whole[place[n]] for n in names]) < 1.0


def test_issue_16_detection_reads_the_ties_the_projection_made(
        case: Planted, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 16: Components read the agent graph's ties back from igraph, a Python tuple per
    # tie (190 MB at 5,400 cells, at the peak of the detection); it takes the projection's
    # arrays now, and the cells are the same
    expected = find_cells(case.graph, FAST)
    agents = expected.agents
    assert agents.ends is not None
    assert agents.ends.tolist() == [list(e) for e in agents.graph.get_edgelist()]

    def refused(_graph: ig.Graph) -> None:
        raise AssertionError("the agent graph's ties were read back from igraph")

    monkeypatch.setattr(ig.Graph, "get_edgelist", refused)
    found = find_cells(case.graph, FAST)
    assert found.membership == expected.membership
    assert found.confidence == expected.confidence
    assert found.resolution == expected.resolution


def test_issue16_cells_stay_when_unrelated_evidence_is_added(case: Planted) -> None:
    # issue 16: nightly reruns with a new, unrelated return do not reshuffle untouched cells
    other = planted_case(5, seed=3, noise=0.1).graph
    both = nx.compose(case.graph, nx.relabel_nodes(
        other, {n: n.replace(":", ":z-", 1) for n in other}))
    alone, together = find_cells(case.graph, FAST), find_cells(both, FAST)
    assert len(together.cells) > len(alone.cells)
    untouched = [c.members for c in together.cells
                 if not any(":z-" in m for m in c.members)]
    assert sorted(sorted(m.items()) for m in untouched) == sorted(
        sorted(c.members.items()) for c in alone.cells)


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
    saved_cells = write_cells(stored, result, keep=True)
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

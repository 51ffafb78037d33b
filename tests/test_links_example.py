"""Link analysis on the committed example case, as a new user runs it (issue 9)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner, Result

from ringmap.analysis.links import CONTEXT_TYPES, EvidenceGraph, shortest_paths
from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore

# two agents of different cells, whose plain shortest paths run through their raid sites and
# the country those are in
A, B = "person:AG-00009", "person:AG-00103"


def _run(store: EmbeddedStore, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--store", str(store.path)])


def _types(nodes: list[str]) -> set[str]:
    return {node.split(":", 1)[0] for node in nodes}


def test_issue_9_avoid_hubs_routes_around_countries_and_raid_sites(
        strikeback: EmbeddedStore) -> None:
    """Regression: ``--avoid-hubs`` gave the same paths, through Country:PH and raid sites."""
    plain = shortest_paths(strikeback, A, B)
    assert any("Country:PH" in path.nodes for path in plain.paths)
    # with the carrier NAT that every cell passes through set aside too (issue 9), the two
    # cells meet only through handsets and victims they share: ten hops
    avoiding = shortest_paths(strikeback, A, B, avoid_hubs=True, max_hops=10)
    assert avoiding.paths, avoiding.note
    assert [p.nodes for p in avoiding.paths] != [p.nodes for p in plain.paths]
    infrastructure = EvidenceGraph(strikeback).infrastructure
    assert infrastructure  # the cell run set shared Wi-Fi and CGNAT addresses aside
    for path in avoiding.paths:
        inner = path.nodes[1:-1]
        assert not _types(inner) & CONTEXT_TYPES, path.text()
        assert not set(inner) & infrastructure, path.text()
    assert "Country:PH" in avoiding.excluded_hubs


def test_context_nodes_are_allowed_as_ends(strikeback: EmbeddedStore) -> None:
    result = shortest_paths(strikeback, "Location:RS-BCL-001", B, avoid_hubs=True, max_hops=10)
    assert result.paths, result.note
    for path in result.paths:
        assert path.nodes[0] == "Location:RS-BCL-001"
        assert not _types(path.nodes[1:]) & CONTEXT_TYPES, path.text()


def test_issue_9_link_tables_show_names_beside_ids(strikeback: EmbeddedStore) -> None:
    """Regression: ``path`` showed ``Person:AG-00009`` where the maps show the name."""
    name = strikeback.get("Person:AG-00009").props["name"]  # type: ignore[union-attr]
    result = _run(strikeback, "path", A, B, "--avoid-hubs", "--max-hops", "10", "--paths", "1",
                  "--format", "csv")
    assert result.exit_code == 0, result.output
    first = next(csv.DictReader(io.StringIO(result.stdout)))
    assert (first["from"], first["from_label"]) == ("Person:AG-00009", name)
    table = _run(strikeback, "path", A, B, "--paths", "1")
    assert name in table.stdout


def test_issue_9_victims_keep_their_pseudonyms_in_link_tables(strikeback: EmbeddedStore) -> None:
    victim = strikeback.get("Person:V-000002")
    assert victim is not None
    result = _run(strikeback, "expand", "Person:V-000002", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    shown = {r["id"]: r["label"] for r in rows if r["section"] == "nodes"}
    assert shown["Person:V-000002"].startswith("V-")
    assert shown["Account:snapchat/jack.taylor.74"].startswith("Account V-")
    assert victim.props["name"] not in result.stdout
    assert "jack.taylor.74" not in {r["source_label"] for r in rows}


def test_issue_9_cell_members_show_their_labels(strikeback: EmbeddedStore) -> None:
    result = _run(strikeback, "cell", "C001", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    labels = {r["member"]: r["label"] for r in rows}
    for member, label in labels.items():
        node = strikeback.get(member)
        assert node is not None
        assert label == node.props["name" if node.type == "Person" else "handle"]


def test_issue_9_batch_finds_a_bare_handle(strikeback: EmbeddedStore, tmp_path: Path) -> None:
    """Regression: ``jack.taylor.74`` was unknown though Account:snapchat/jack.taylor.74 is in
    the case; it is a victim's account, so it is shown under its pseudonym."""
    watchlist = tmp_path / "watchlist.csv"
    watchlist.write_text("identifier\njack.taylor.74\n", encoding="utf-8")
    result = _run(strikeback, "batch", str(watchlist))
    assert result.exit_code == 0, result.output
    [row] = csv.DictReader(io.StringIO(result.stdout))
    assert (row["known"], row["node_type"], row["status"]) == ("yes", "Account", "linked")
    assert row["node"].startswith("Account:V-")
    assert "snapchat/jack.taylor.74" not in result.stdout

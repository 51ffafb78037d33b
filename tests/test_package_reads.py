"""issue 16: raid packages read only their own cell's part of the case.

Before, every package read the whole cell run again (to draw its map) and decided the victim
side of the whole graph twice, so N packages cost N whole-run reads and 2N whole-graph passes.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import jinja2
import networkx as nx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ringmap import privacy
from ringmap.errors import ExportError, NotFound, StoreError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.schema import SCHEMA
from ringmap.privacy import Privacy
from ringmap.viz import package
from ringmap.viz.maps import cells_detail_map
from ringmap.viz.package import MANIFEST, SIGNATURE, export_cell, export_cells, verify_package
from ringmap.viz.reach import INFRA_RELS, reach_cells, select_cells
from ringmap.viz.render import MapNode, MapSpec, render_map
from ringmap.viz.timeline import cell_timeline, timeline_png


def test_packages_read_the_run_and_decide_the_victim_side_once(
        strikeback: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"load_cells": 0, "victim_side": 0}
    load_cells, victim_side = EmbeddedStore.load_cells, privacy.victim_side

    def counted_load(self: EmbeddedStore, run_id: str, **options: Any) -> Any:
        calls["load_cells"] += 1
        return load_cells(self, run_id, **options)

    def counted_side(graph: Any) -> set[str]:
        calls["victim_side"] += 1
        return victim_side(graph)

    monkeypatch.setattr(EmbeddedStore, "load_cells", counted_load)
    monkeypatch.setattr(privacy, "victim_side", counted_side)
    written = export_cells(strikeback, tmp_path / "packages", graph=strikeback.project())
    assert len(written) > 2
    assert calls == {"load_cells": 1, "victim_side": 1}


def test_issue_16_one_package_reads_the_run_once(
        strikeback: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # each read of a run validates every cell's report (~2.5 ms a cell): export cell read
    # the run twice, once for its cell and once for the run's cards
    calls: list[str] = []
    load_cells = EmbeddedStore.load_cells

    def counted_load(self: EmbeddedStore, run_id: str, **options: Any) -> Any:
        calls.append(run_id)
        return load_cells(self, run_id, **options)

    monkeypatch.setattr(EmbeddedStore, "load_cells", counted_load)
    run_id, records = select_cells(strikeback, None)
    calls.clear()
    written = export_cell(strikeback, records[1].cell_id, tmp_path / "one")
    assert (written.cell_id, calls) == (records[1].cell_id, [run_id])
    with pytest.raises(NotFound, match=f"^no cell C999 in the latest cell run {run_id} "):
        export_cell(strikeback, "C999", tmp_path / "none")
    assert not (tmp_path / "none").exists()


def _walked_reach(graph: nx.MultiDiGraph, members: list[str]) -> tuple[set[str], set[str],
                                                                        set[str]]:
    """Footprint, exhibits and raid sites of ``members`` by the module docstring of
    :mod:`ringmap.viz.reach`, walking every edge of every node (what reach did before)."""
    def near(node: str, rels: frozenset[str]) -> list[tuple[str, str]]:
        return [*((d, k) for _, d, k in graph.out_edges(node, keys=True) if k in rels),
                *((s, k) for s, _, k in graph.in_edges(node, keys=True) if k in rels)]

    def kind(node: str) -> str:
        return str(graph.nodes[node].get("type", ""))

    ids = SCHEMA.identifier_types
    ring1 = {o for m in members for o, _ in near(m, INFRA_RELS) if kind(o) in ids}
    ring2 = {o for n in ring1 for o, _ in near(n, INFRA_RELS)
             if kind(o) in ids and kind(o) != "Account"}
    found = set(members) | ring1 | ring2
    exhibits = {s for n in found for s, _, k in graph.in_edges(n, keys=True)
                if k in ("SEIZED_FROM", "EXHIBIT_OF")}
    sites = {o for n in found if kind(n) == "Person"
             for o, _ in near(n, frozenset({"WORKS_AT", "ARRESTED_AT"}))}
    sites |= {o for e in exhibits for o, _ in near(e, frozenset({"SEIZED_AT"}))}
    return found, exhibits, sites


def test_reach_from_its_index_is_the_walk_over_every_edge(strikeback: EmbeddedStore) -> None:
    # issue 16: reach_cells indexes the few relationships it follows once per call instead of
    # walking every contact of every busy account per cell (7.1 -> 0.9 CPU-s at 150 cells),
    # and from the packed evidence graph's arrays as they are (a set per node, made by a
    # Python loop over every relationship it follows, was ~8 CPU-s at 5,400 cells)
    graph = strikeback.project()
    _, records = select_cells(strikeback, None)
    for read in (graph, strikeback.evidence()):
        found = reach_cells(read, records)
        assert any(r.sites for r in found) and any(r.exhibits for r in found)
        for cell, reached in zip(records, found, strict=True):
            assert (reached.footprint, reached.exhibits, reached.sites) == _walked_reach(
                graph, reached.members), cell.cell_id


def test_a_cell_map_reads_its_sightings_in_one_batch(
        strikeback: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 16: a package's map read the sightings of each of its ~1,000 nodes and
    # relationships one by one, then built every sighting where its tooltips show three
    graph = strikeback.project()
    _, records = select_cells(strikeback, None)
    reaches = reach_cells(graph, records[:1], records)
    calls = {"provenance": 0, "provenance_many": 0, "provenance_first": 0}
    originals = {name: getattr(EmbeddedStore, name) for name in calls}

    def counted(name: str) -> Any:
        def call(self: EmbeddedStore, *args: Any) -> Any:
            calls[name] += 1
            return originals[name](self, *args)
        return call

    for name in calls:
        monkeypatch.setattr(EmbeddedStore, name, counted(name))
    spec = cells_detail_map(strikeback, graph, records[:1], reaches,
                            Privacy.for_graph(graph), "cell")
    assert len(spec.nodes) + len(spec.edges) > 20
    assert any("sources:" in n.title for n in spec.nodes)
    assert calls == {"provenance": 0, "provenance_many": 0, "provenance_first": 1}


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of every package under ``folder``, its creation time taken out (the
    manifest and its signature change with it)."""
    created = {json.loads(p.read_text(encoding="utf-8"))["created"]
               for p in folder.glob("*/summary.json")}
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name not in (MANIFEST, SIGNATURE):
            data = path.read_bytes()
            for value in created:
                data = data.replace(value.encode(), b"<created>")
            out[path.relative_to(folder).as_posix()] = data
    return out


def test_packages_written_by_two_processes_are_those_one_writes(
        strikeback: EmbeddedStore, tmp_path: Path) -> None:
    # issue 16: packages are written by forked workers, one per core
    graph = strikeback.project()
    one = export_cells(strikeback, tmp_path / "one", graph=graph, workers=1)
    two = export_cells(strikeback, tmp_path / "two", graph=graph, workers=2)
    assert [(p.cell_id, p.rows, p.signed_by) for p in one] == [
        (p.cell_id, p.rows, p.signed_by) for p in two]
    assert [p.path.name for p in two] == [p.path.name for p in one]
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    assert all(verify_package(p.path).problems == [] for p in two)


def test_issue_16_workers_are_forked_afresh_every_few_packages(
        strikeback: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a worker copies each page of the parent it touches: one that wrote every package of a
    # case grew by 0.6 MB a package at 600 cells; fresh forks keep it to a few packages'
    pools: list[int] = []

    class Counted(ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pools.append(1)
            super().__init__(*args, **kwargs)

    graph = strikeback.evidence()
    one = export_cells(strikeback, tmp_path / "one", graph=graph, workers=1)
    monkeypatch.setattr(package, "_PER_WORKER", 1)
    monkeypatch.setattr(package, "ProcessPoolExecutor", Counted)
    two = export_cells(strikeback, tmp_path / "two", graph=graph, workers=2)
    # the first package is written before the workers are forked, and one more process
    # checks the cells' reports meanwhile
    assert len(one) > 2 and len(pools) == len(one) // 2 + 1
    assert [(p.cell_id, p.rows) for p in two] == [(p.cell_id, p.rows) for p in one]
    assert _files(tmp_path / "two") == _files(tmp_path / "one")


def test_issue_16_forked_workers_draw_timelines_with_fonts_of_their_own(
        strikeback: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # d868c80 cached each label's glyph layout, with the FreeType faces that laid it out, in
    # the process that drew it: package workers forked from a process that had drawn a
    # timeline (in CI, an earlier test's) drew new glyphs with their parent's faces, whose
    # font file they share with it and with each other (one file offset), and failed with
    # FT_Load_Glyph 'invalid outline' or drew other pixels
    graph = strikeback.evidence()
    _, records = select_cells(strikeback, None)
    lines = [cell_timeline(graph, r.members, r.payments, title=f"Cell {r.cell_id}")
             for r in reach_cells(graph, records)]
    timeline_png(lines[0])  # this process's glyphs: some of those the workers draw
    monkeypatch.setattr(package, "_PER_WORKER", 1)  # a fresh fork for every package
    # three times: whether a worker reads where another moved the shared offset is a race
    written = [export_cells(strikeback, tmp_path / str(attempt), graph=graph, workers=2)
               for attempt in range(3)]
    expected = [timeline_png(line) for line in lines]
    for packages in written:
        assert [(p.path / "timeline.png").read_bytes() for p in packages] == expected


def test_issue_16_export_without_a_graph_reads_the_evidence_arrays(
        strikeback: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `ringmap export cells` built the whole evidence graph as Python dicts (store.project):
    # 0.17 GB more than the arrays at 600 cells, some 6 GB at 2.6M rows
    given = export_cells(strikeback, tmp_path / "given", graph=strikeback.project())

    def refused(*_: Any) -> None:
        raise AssertionError("a package export built the graph of Python dicts")

    monkeypatch.setattr(EmbeddedStore, "project", refused)
    read = export_cells(strikeback, tmp_path / "read", workers=1)
    export_cell(strikeback, given[0].cell_id, tmp_path / "one" / given[0].path.name)
    assert [(p.cell_id, p.rows) for p in read] == [(p.cell_id, p.rows) for p in given]
    assert _files(tmp_path / "read") == _files(tmp_path / "given")
    assert _files(tmp_path / "one") == {k: v for k, v in _files(tmp_path / "given").items()
                                        if k.startswith(given[0].path.name + "/")}


def test_issue_16_maps_share_one_compiled_template(monkeypatch: pytest.MonkeyPatch) -> None:
    # every page compiled the map's template again, 2 ms of each raid package's map
    compiled: list[str] = []
    compile_ = jinja2.Environment.compile

    def counted(self: jinja2.Environment, *args: Any, **kwargs: Any) -> Any:
        compiled.append("map")
        return compile_(self, *args, **kwargs)

    render_map(MapSpec("first", [MapNode("n0", "a")], []))  # compiled here at the latest
    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    pages = [render_map(MapSpec(title, [MapNode("n0", title)], [])) for title in ("C01", "C02")]
    assert compiled == []
    assert "C01" in pages[0] and "C02" not in pages[0] and "C02" in pages[1]


def test_issue_16_forked_workers_read_the_case_through_a_memory_map(
        strikeback: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a fresh worker's page cache starts empty: at 5,400 cells a cell's sightings cost
    # 6.5-6.8 ms read into it, 4.7-5.3 through a map of the operating system's cache
    seen = tmp_path / "mapped"
    seen.mkdir()
    read_mapped = EmbeddedStore.read_mapped

    def recorded(self: EmbeddedStore) -> None:
        read_mapped(self)
        (mapped,) = self._db.execute("PRAGMA mmap_size").fetchone()
        (seen / str(os.getpid())).write_text(str(mapped))

    monkeypatch.setattr(EmbeddedStore, "read_mapped", recorded)
    graph = strikeback.evidence()
    export_cells(strikeback, tmp_path / "one", graph=graph, workers=1)
    export_cells(strikeback, tmp_path / "two", graph=graph, workers=2)
    workers = {int(p.name): int(p.read_text()) for p in seen.iterdir()}
    assert workers and os.getpid() not in workers and min(workers.values()) > 0
    assert _files(tmp_path / "two") == _files(tmp_path / "one")


def test_issue_16_a_package_syncs_its_files_at_once_and_a_failed_sync_leaves_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the 17 files of a raid package were synced one after another, each waiting for a
    # journal commit of its own: 90-110 ms of every package's wall time on a busy disk
    fsync = os.fsync
    synced: list[str] = []
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def slow(fd: int) -> None:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)
        fsync(fd)
        with lock:
            state["now"] -= 1
            synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)

    def files(folder: Path) -> None:
        for n in range(12):
            (folder / f"{n}.txt").write_text(str(n), encoding="utf-8")

    monkeypatch.setattr(os, "fsync", slow)
    key = Ed25519PrivateKey.generate()
    package.write_package(tmp_path / "ok", files, key)
    assert verify_package(tmp_path / "ok").problems == []
    assert sorted(synced) == sorted(p.name for p in (tmp_path / "ok").iterdir())
    assert state["most"] > 1

    def failing(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("7.txt"):
            raise OSError(errno.EIO, "Input/output error")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(ExportError, match="Input/output error"):
        package.write_package(tmp_path / "failed", files, key)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok"]


def test_issue_16_reports_checked_in_another_process_are_those_packages_showed(
        strikeback: EmbeddedStore, tmp_path: Path) -> None:
    # export cells read every cell's report, whole, before reading the evidence: 15-19 CPU-s
    # and 1.1 GB at 5,400 cells; they are checked (and made the packages' text) in another
    # process meanwhile, and one this version cannot read still stops the export before any
    # package is written
    graph = strikeback.evidence()
    checked = export_cells(strikeback, tmp_path / "checked", graph=graph, workers=1)
    whole = export_cells(strikeback, tmp_path / "whole", graph=graph, workers=1,
                         latest=select_cells(strikeback, None))
    assert [p.rows for p in checked] == [p.rows for p in whole]
    assert _files(tmp_path / "checked") == _files(tmp_path / "whole")
    copy = tmp_path / "case.db"
    with sqlite3.connect(strikeback.path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    last = checked[-1].cell_id
    with EmbeddedStore(copy, create=False) as store:
        store._db.execute("UPDATE cells SET record = json_set(record, '$.summary.key_players',"
                          " 'many') WHERE cell_id = ?", (last,))
        for workers in (1, 2):
            with pytest.raises(StoreError, match=f"^the saved report of cell '{last}' cannot"):
                export_cells(store, tmp_path / "out", workers=workers)
            assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

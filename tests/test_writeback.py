"""Writing a detection run back: explanations, their evidence rows, what is kept."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ringmap.analysis import explain
from ringmap.analysis.cells import CellSettings, detect_cells
from ringmap.analysis.explain import write_cells
from ringmap.analysis.report import Reporter, cell_rows
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import AnalysisRun, CellRecord, CellReport, EvidenceRow, Tie, built
from ringmap.privacy import Privacy
from ringmap.tests.cells_synth import planted_case
from ringmap.tests.test_package_reads import _files
from ringmap.viz.package import export_cells


def test_issue14_rows_and_ties_built_directly_are_those_model_construct_builds() -> None:
    row: dict[str, Any] = {"item": "USES:Person:a->Account:fb/a", "file": "f.csv", "row": 3,
                           "ref": None, "grading": "B2"}
    tie: dict[str, Any] = {"kind": "Phone", "identifier": "Phone:+441", "label": "+441",
                           "weight": 0.5, "shared_by": 2, "in_cell": 2, "infrastructure": False,
                           "evidence": [EvidenceRow.model_construct(set(row), **row)]}
    pairs = [(built(EvidenceRow, **row),
              EvidenceRow.model_construct(set(EvidenceRow.model_fields), **row)),
             (built(Tie, **dict(reversed(tie.items()))),  # kept in the fields' order
              Tie.model_construct(set(Tie.model_fields), **tie))]
    for made, expected in pairs:
        assert made == expected and repr(made) == repr(expected)
        assert made.model_dump_json() == expected.model_dump_json()
        assert made.model_fields_set == expected.model_fields_set
    # every field given, and no other
    with pytest.raises(KeyError):
        built(EvidenceRow, **{k: v for k, v in row.items() if k != "grading"}, extra=1)
    with pytest.raises(TypeError):
        built(EvidenceRow, **row, extra=1)


def test_issue14_public_ids_remembered_are_those_worked_out() -> None:
    privacy = Privacy(victims={"Person:v"}, key=b"k" * 32)
    ids = ["Person:v", "PaymentCard:4111111111111111", "Phone:+639171234567", "Person:a"]
    first = [privacy.public_id(i) for i in ids]
    assert first == [privacy.public_id(i) for i in ids]
    assert first == [Privacy(victims={"Person:v"}, key=b"k" * 32).public_id(i) for i in ids]
    assert first[1] == "PaymentCard:411111******1111" and first[0].startswith("Person:V-")


def test_issue16_a_run_explained_and_saved_in_parts_is_saved_as_in_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = planted_case(3, seed=4, noise=0.2).builder.ingest(
        EmbeddedStore(tmp_path / "case.db"), tmp_path / "evidence")
    for lookups in (5, 10_000):  # the lookup budget spent part-way, and never
        result = detect_cells(store, CellSettings(runs=1, evidence_lookups=lookups))
        whole = write_cells(store, result, run_id=f"whole-{lookups}", keep=True)
        monkeypatch.setattr(explain, "_PART", 1)  # a part per cell
        parts = write_cells(store, result, run_id=f"parts-{lookups}", keep=True)
        monkeypatch.undo()
        assert len(whole.records) > 1
        assert [r.model_dump_json() for r in store.load_cells(whole.run.run_id)] == [
            r.model_dump_json() for r in store.load_cells(parts.run.run_id)]
        assert whole.run.summary["evidence"] == parts.run.summary["evidence"]
        assert whole.records == parts.records


def test_issue16_packages_of_the_cells_handed_back_are_those_of_the_cells_read_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ringmap run hands its packages the cells write_cells returns, without explanations:
    # reading every cell back with its explanations was most of what packages added
    store = planted_case(3, seed=4, noise=0.2).builder.ingest(
        EmbeddedStore(tmp_path / "case.db"), tmp_path / "evidence")
    saved = write_cells(store, detect_cells(store, CellSettings(runs=1)), keep=True)
    graph = store.evidence()
    read_back = export_cells(store, tmp_path / "read", graph=graph, workers=1)

    def unread(*_args: Any) -> None:
        raise AssertionError("the cells were read back")

    monkeypatch.setattr(EmbeddedStore, "load_cells", unread)
    handed = export_cells(store, tmp_path / "held", graph=graph, workers=1,
                          latest=(saved.run.run_id, saved.records))
    assert [(p.cell_id, p.rows) for p in handed] == [(p.cell_id, p.rows) for p in read_back]
    assert _files(tmp_path / "held") == _files(tmp_path / "read")


def test_issue_14_each_report_is_made_as_its_part_is_saved_and_none_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """issue 14: every cell's report was built before the first was saved, and every one
    kept for the caller, gigabytes at national size; now a part's reports are made as it is
    saved and `ringmap cells` keeps only each cell's row."""
    store = planted_case(3, seed=4, noise=0.2).builder.ingest(
        EmbeddedStore(tmp_path / "case.db"), tmp_path / "evidence")
    result = detect_cells(store, CellSettings(runs=1))
    made: list[str] = []
    report = Reporter.cell

    def cell(self: Reporter, index: int) -> CellReport:
        made.append(result.cells[index].cell_id)
        return report(self, index)

    monkeypatch.setattr(Reporter, "cell", cell)
    saving = EmbeddedStore.save_cells
    made_when_saved: list[list[str]] = []

    def save_cells(self: EmbeddedStore, run: AnalysisRun, cells: Iterable[CellRecord]
                   ) -> None:
        def counted() -> Iterator[CellRecord]:
            for cell in cells:
                made_when_saved.append(list(made))
                yield cell
        saving(self, run, counted())

    monkeypatch.setattr(EmbeddedStore, "save_cells", save_cells)
    monkeypatch.setattr(explain, "_PART", 1)  # a part per cell
    saved = write_cells(store, result)
    ids = [c.cell_id for c in result.cells]
    assert len(ids) > 1 and made_when_saved == [ids[: n + 1] for n in range(len(ids))]
    assert saved.records == []
    assert saved.cells == [cell_rows(r.cell_id, r.summary)
                           for r in store.load_cells(saved.run.run_id, explanations=False)]

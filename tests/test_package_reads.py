"""issue 16: raid packages read only their own cell's part of the case.

Before, every package read the whole cell run again (to draw its map) and decided the victim
side of the whole graph twice, so N packages cost N whole-run reads and 2N whole-graph passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ringmap import privacy
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.viz.package import export_cells


def test_packages_read_the_run_and_decide_the_victim_side_once(
        strikeback: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"load_cells": 0, "victim_side": 0}
    load_cells, victim_side = EmbeddedStore.load_cells, privacy.victim_side

    def counted_load(self: EmbeddedStore, run_id: str) -> Any:
        calls["load_cells"] += 1
        return load_cells(self, run_id)

    def counted_side(graph: Any) -> set[str]:
        calls["victim_side"] += 1
        return victim_side(graph)

    monkeypatch.setattr(EmbeddedStore, "load_cells", counted_load)
    monkeypatch.setattr(privacy, "victim_side", counted_side)
    written = export_cells(strikeback, tmp_path / "packages", graph=strikeback.project())
    assert len(written) > 2
    assert calls == {"load_cells": 1, "victim_side": 1}

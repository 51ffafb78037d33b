"""issue 14 item 1: the faster ingest engine gives, byte for byte, the store and the row
accounting the previous engine gave, on the committed example case and on the raw layout
(``ringmap synth --raw``): nodes, relationships, every load's statements and sightings, exhibit
references, the ledger, the quarantine, and loaded / duplicate / rejected / skipped counts.

``tests/fixtures/ingest/golden.json`` was written from the stores of the engine before issue
14 (main at c8a8ba2), ingested exactly as below; a change meant to change what ingest stores
records its new fingerprints here, in the same commit, saying why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.case import load_case
from ringmap.ingest.run import ingest_files
from ringmap.synth import SynthParams, generate
from ringmap.testing import store_fingerprint

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((ROOT / "tests" / "fixtures" / "ingest" / "golden.json").read_text())
#: small batches, so that items stated by several batches of a file are covered
BATCH = 100


@pytest.fixture(scope="module")
def raw_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("golden") / "raw"
    generate(folder, SynthParams(cells=5, seed=23, noise=0.3, victims_per_cell=20, raw=True))
    return folder


def _ingested(case: Path, work: Path) -> dict[str, Any]:
    with EmbeddedStore(work / "case.db") as store:
        report = ingest_files(store, load_case(case), run_id="golden",
                              quarantine_dir=work / "q", batch_size=BATCH)
    accounting = [[Path(f.file).name, f.read, f.loaded, f.duplicate, f.rejected, f.status,
                   f.skipped] for f in report.files]
    return {"report": accounting, **store_fingerprint(work / "case.db", work / "q")}


def test_issue14_example_case_stores_as_before(tmp_path: Path) -> None:
    assert _ingested(ROOT / "examples" / "strikeback", tmp_path) == GOLDEN["example"]


def test_issue14_raw_layout_stores_as_before(raw_case: Path, tmp_path: Path) -> None:
    found = _ingested(raw_case, tmp_path)
    assert found == GOLDEN["raw"]
    assert any(row[4] for row in found["report"])  # rejected rows are covered
    assert any(row[3] for row in found["report"])  # and duplicates
    assert any(row[6] for row in found["report"])  # and skipped optional entities

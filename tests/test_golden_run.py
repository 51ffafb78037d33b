"""issue 16: the outputs of ``ringmap run --packages`` on the example case are unchanged.

Every file the run writes is compared, byte for byte, with the SHA-256 recorded in
``tests/fixtures/golden/run-packages.json``: the summary, ``cells.csv``, the maps, the
timelines and every file of every raid package. This guards refactors of ingest, projection,
cells, maps and packages (issue 16: "the same outputs, byte for byte where they are
deterministic").

What a run legitimately changes from one run to the next is normalised first, and only that:

- the ingest run id and the cell run id (a UTC timestamp and random hex, ``ingest/run.py``,
  ``analysis/explain.py``) and each package's ``created`` time: they are replaced by
  placeholders wherever they appear;
- paths: the run reads a copy of the case and writes into ``out``, both named relative to a
  temporary working folder, so the summaries name the same paths (and pad their tables to the
  same widths) in every checkout and worker;
- ``manifest.json`` lists the SHA-256 and size of the package's files, two of which hold the
  run id and time; each entry is first checked against the file as written, then replaced by
  the normalised file's hash and size;
- ``manifest.sig`` signs the manifest as written, so it differs with the run id; instead of its
  bytes the test checks that :func:`~ringmap.viz.package.verify_package` accepts the package
  under the test's fixed signing key;
- the case file ``ringmap.db`` (and its lock) is left out: SQLite's pages hold the run ids and
  times, and everything the run reads back from it is in the files compared.

When a change is meant to change the output, regenerate the golden on purpose and review the
diff of the fixture with the change::

    RINGMAP_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_run.py -p no:cacheprovider
    git diff tests/fixtures/golden/

The regenerating run rewrites the fixture and reports itself skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.tests.example_case import STRIKEBACK
from ringmap.viz.package import MANIFEST, SIGNATURE, verify_package

GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "run-packages.json"

#: A fixed Ed25519 seed, so the packages' public key and fingerprint are the same every run.
SIGNING_SEED = "5eed" * 16
#: Written by the run but not compared (see the module docstring for why).
LEFT_OUT = {"ringmap.db", "ringmap.db.lock", "ringmap.db-wal", "ringmap.db-shm"}


def _volatile(out: Path) -> dict[str, str]:
    """What differs between two runs of the same case, mapped to its placeholder."""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    found = {summary["ingest_run"]: "<ingest-run>", summary["cells_run"]: "<cells-run>"}
    for path in sorted((out / "packages").glob("*/summary.json")):
        found[json.loads(path.read_text(encoding="utf-8"))["created"]] = "<created>"
    return found


def _normalised(data: bytes, volatile: dict[str, str]) -> bytes:
    for value, placeholder in volatile.items():
        data = data.replace(value.encode(), placeholder.encode())
    return data


def _manifest(folder: Path, volatile: dict[str, str]) -> bytes:
    """The manifest with each entry checked against its file, then given the normalised
    file's hash and size."""
    raw = (folder / MANIFEST).read_bytes()
    manifest: dict[str, Any] = json.loads(raw)
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}, name
        normal = _normalised(data, volatile)
        entry.update(sha256=hashlib.sha256(normal).hexdigest(), bytes=len(normal))
    return (json.dumps(manifest, indent=2) + "\n").encode()


def _digests(out: Path) -> dict[str, str]:
    volatile = _volatile(out)
    digests: dict[str, str] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        name = path.relative_to(out).as_posix()
        if path.name in LEFT_OUT or path.name == SIGNATURE:
            continue
        data = (_manifest(path.parent, volatile) if path.name == MANIFEST
                else _normalised(path.read_bytes(), volatile))
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def test_run_with_packages_writes_the_golden_outputs(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if not (STRIKEBACK / "case.yaml").is_file():
        pytest.skip("examples/strikeback is not in this checkout")
    monkeypatch.setenv("RINGMAP_SIGNING_KEY", SIGNING_SEED)
    shutil.copytree(STRIKEBACK, tmp_path / "strikeback")
    monkeypatch.chdir(tmp_path)
    out = Path("out")
    result = CliRunner().invoke(cli, ["run", "strikeback", "--out", "out", "--packages"])
    assert result.exit_code == 0, result.output
    packages = sorted(p for p in (out / "packages").iterdir())
    assert packages, "the example case has cells, so the run writes packages"
    for folder in packages:
        assert verify_package(folder).problems == [], folder.name
    fingerprints = {verify_package(p).signed_by for p in packages}
    assert len(fingerprints) == 1
    found = {"stdout": hashlib.sha256(
        _normalised(result.stdout.encode(), _volatile(out))).hexdigest(), **_digests(out)}
    if os.environ.get("RINGMAP_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"RINGMAP_UPDATE_GOLDEN: rewrote {GOLDEN.name}; review its git diff")
    golden: dict[str, str] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    changed = sorted(n for n in found.keys() & golden.keys() if found[n] != golden[n])
    assert (changed, sorted(found.keys() - golden.keys()),
            sorted(golden.keys() - found.keys())) == ([], [], []), (
        f"run --packages output differs from the golden: changed {changed}, new "
        f"{sorted(found.keys() - golden.keys())}, missing {sorted(golden.keys() - found.keys())}"
        "; if meant, regenerate it: RINGMAP_UPDATE_GOLDEN=1 python -m pytest "
        "tests/test_golden_run.py")


def test_normalising_replaces_only_what_differs_between_runs() -> None:
    volatile = {"cells-20261130T070411Z-26f6fb": "<cells-run>"}
    text = b"cells-20261130T070411Z-26f6fb in out/a.md, contact 2014-03-01T10:00:00"
    assert _normalised(text, volatile) == b"<cells-run> in out/a.md, contact 2014-03-01T10:00:00"

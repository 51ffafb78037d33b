"""issue 12: case data is private by default: files 0600, folders 0700, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap import audit
from ringmap.cli import cli
from ringmap.fileio import write_atomic
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.run import ingest_files
from ringmap.tests.attack.attack_corpus import PEOPLE_MAPPING

STRIKEBACK = Path(__file__).resolve().parents[1] / "examples" / "strikeback"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most careless umask there is, restored afterwards."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


def modes(root: Path) -> dict[str, int]:
    """The permission bits of everything under ``root``, by path relative to it."""
    return {str(p.relative_to(root)) + ("/" if p.is_dir() else ""): stat.S_IMODE(p.stat().st_mode)
            for p in root.rglob("*")}


@pytest.mark.slow
def test_issue_12_run_writes_nothing_others_can_read(tmp_path: Path, open_umask: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RINGMAP_AUDIT_LOG")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(STRIKEBACK), "--out", str(out), "--packages"])
    assert result.exit_code == 0, result.output
    found = modes(out)
    assert {"ringmap.db", "ringmap.db.audit.jsonl", "cells.csv", "summary.md", "maps/cells.html",
            "packages/"} <= found.keys()
    assert any(name.startswith("quarantine/") for name in found)
    wrong = {name: oct(mode) for name, mode in found.items()
             if mode != (0o700 if name.endswith("/") else 0o600)}
    assert wrong == {}


def test_issue_12_the_library_writes_privately_too(tmp_path: Path, open_umask: None) -> None:
    mapping, data = tmp_path / "people.yaml", tmp_path / "p.csv"
    mapping.write_text(PEOPLE_MAPPING)
    data.write_text("pid,name\nP1,Ana\nP2,\n,nobody\n")
    with EmbeddedStore(tmp_path / "case" / "case.db") as store:
        ingest_files(store, [(data, mapping, None)], quarantine_dir=tmp_path / "case" / "q")
    write_atomic(tmp_path / "case" / "out" / "x.txt", "x")
    audit.record(tmp_path / "case" / "audit.jsonl", "test")
    found = modes(tmp_path / "case")
    assert any(name.startswith("q/") and not name.endswith("/") for name in found)
    assert {name: oct(mode) for name, mode in found.items()
            if mode != (0o700 if name.endswith("/") else 0o600)} == {}


def test_ringmap_umask_shares_with_the_group(tmp_path: Path, open_umask: None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGMAP_UMASK", "027")
    write_atomic(tmp_path / "shared" / "x.txt", "x")
    assert modes(tmp_path / "shared") == {"x.txt": 0o640}
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o750
    monkeypatch.setenv("RINGMAP_UMASK", "rw")
    result = CliRunner().invoke(cli, ["stats", "--store", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert result.stderr == "Error: RINGMAP_UMASK must be an octal umask such as 077, got 'rw'\n"

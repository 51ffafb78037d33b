"""issue 12: every hostile file of ``hostile_files.py`` ingested through the CLI: one
``Error:`` line or a report whose accounting adds up, never a traceback; what reaches the
terminal is inert and no CSV written (the quarantine) holds a live formula."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.tests.attack.attack_corpus import PEOPLE_MAPPING
from ringmap.tests.attack.hostile_files import HOSTILE_FILES, HostileFile, live_cells


def test_issue_12_at_least_100_hostile_files_of_each_format() -> None:
    names = [f.name for f in HOSTILE_FILES]
    assert len(names) == len(set(names))
    assert len(names) >= 100, len(names)
    assert set(Counter(f.family for f in HOSTILE_FILES)) == {"csv", "jsonl", "xlsx"}


def _inert(text: str) -> bool:
    return all(c.isprintable() or c in "\n " for c in text)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("hostile", HOSTILE_FILES, ids=[f.name for f in HOSTILE_FILES])
def test_issue_12_hostile_file(hostile: HostileFile, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("people.yaml").write_text(PEOPLE_MAPPING)
    hostile.build(tmp_path / hostile.name)
    inputs = {hostile.name, "people.yaml"}

    result = CliRunner().invoke(cli, ["ingest", hostile.name, "--mapping", "people.yaml",
                                      "--format", "json", "--store", "case.db"])

    assert isinstance(result.exception, SystemExit | None), result.exc_info
    assert result.exit_code in (0, 1), result.output
    assert _inert(result.stdout) and _inert(result.stderr), result.output
    report = json.loads(result.stdout) if result.stdout.startswith("[") else []
    if result.exit_code == 1:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), (
            result.stderr)
    for f in report:
        assert f["read"] == f["loaded"] + f["duplicate"] + f["rejected"], f
    outcome = ("error" if not report else
               "quarantine" if any(f["rejected"] for f in report) else "ok")
    assert hostile.expect in ("any", outcome), (outcome, result.output)
    written = [Path(folder) / name for folder, _, names in os.walk(tmp_path)
               for name in names if name not in inputs]
    for path in written:
        if path.suffix == ".csv":
            assert live_cells(path) == [], path

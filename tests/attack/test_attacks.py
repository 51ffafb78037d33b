"""issue 12: every attack of the standing corpus (``attack_corpus.py``), run through the CLI.

For each: the expected exit code and outcome (one ``Error:`` line, or rows quarantined with the
accounting adding up), no traceback, no secret and no file content from outside in any output
(stdout, stderr, the audit log, every file written), nothing written outside the work folder.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.tests.attack.attack_corpus import (
    ATTACKS,
    KEY_CANARY,
    PASSWORD_CANARY,
    SECRET_CANARY,
    Attack,
    prepare_outside,
)

CANARIES = (SECRET_CANARY, PASSWORD_CANARY, KEY_CANARY)


def _snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` but ``skip``, with its size and modification time."""
    out: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        if Path(folder) == skip or skip in Path(folder).parents:
            dirs.clear()
            continue
        for name in files:
            info = (Path(folder) / name).lstat()
            out[os.path.join(folder, name)] = (info.st_size, info.st_mtime_ns)
    return out


def _written(work: Path) -> list[Path]:
    """Regular files under the work folder (symlinks not followed)."""
    return [Path(folder) / name for folder, _dirs, files in os.walk(work)
            for name in files if (Path(folder) / name).is_file()
            and not (Path(folder) / name).is_symlink()]


def test_the_corpus_is_large_and_named_uniquely() -> None:
    names = [a.name for a in ATTACKS]
    assert len(names) == len(set(names))
    assert len(ATTACKS) >= 10


@pytest.mark.timeout(120)  # a hang is a finding: fail it, not the whole run
@pytest.mark.parametrize("attack", ATTACKS, ids=[f"{a.family}/{a.name}" for a in ATTACKS])
def test_attack(attack: Attack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    prepare_outside(outside)
    attack.build(work, outside)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(work))
    monkeypatch.setenv("RINGMAP_SECRET", SECRET_CANARY)
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD_CANARY)
    monkeypatch.setenv("RINGMAP_KEY_FILE", str(outside / "secret.key"))
    monkeypatch.delenv("RINGMAP_AUDIT_LOG")  # beside the case file, inside the work folder
    for name, value in attack.env.items():
        monkeypatch.setenv(name, value)
    before = _snapshot(tmp_path, work)
    inputs = set(_written(work))

    result = CliRunner().invoke(cli, attack.args(outside))

    assert isinstance(result.exception, SystemExit | None), result.exc_info
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    if attack.outcome == "error":
        assert result.exit_code == 1, output
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("Error: "), result.stderr
        assert re.search(attack.error, result.stderr), result.stderr
    elif attack.outcome == "usage":
        assert result.exit_code == 2, output
        assert result.stderr.splitlines()[-1].startswith("Error: "), result.stderr
    elif attack.outcome == "quarantine":
        files = json.loads(result.stdout)
        # a file of which every row is rejected fails the command after its report (issue 9)
        if any(f["status"] == "rejected" for f in files):
            assert result.exit_code == 1, output
            assert result.stderr.splitlines()[-1].startswith("Error: every row of "), output
        else:
            assert result.exit_code == 0, output
    else:
        assert result.exit_code == 0, output
    if attack.outcome == "quarantine":
        assert sum(f["rejected"] for f in files) > 0, files
        for f in files:
            assert f["read"] == f["loaded"] + f["duplicate"] + f["rejected"], f
    texts = [output, *(p.read_bytes().decode("utf-8", "replace") for p in _written(work)
                       if p not in inputs)]
    for text in texts:
        for canary in CANARIES:
            assert canary not in text
    assert _snapshot(tmp_path, work) == before

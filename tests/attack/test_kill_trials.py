"""issue 12: a few kill -9 trials of ``ringmap run`` and ``ringmap export cells``
(``bench/kill_trials.py`` runs 25 of each): zero inconsistent stores, zero half-written
packages, zero leftovers after the next start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "kill_trials.py"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_issue_12_kill_trials(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(BENCH), "--trials", "3", "--cells", "2",
                             "--seed", "3", "--work", str(tmp_path)],
                            capture_output=True, text=True, timeout=580)
    assert result.returncode == 0, result.stdout + result.stderr
    totals = json.loads(result.stdout[result.stdout.index("{"):])
    assert totals["ingest_trials"] == totals["export_trials"] == 3
    assert totals["inconsistent_stores"] == totals["differs_after_rerun"] == 0
    assert totals["packages_failing_verify"] == 0
    assert totals["leftovers_after_next_start"] == totals["unmarked_runs_after_next_start"] == 0

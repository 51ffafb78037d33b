"""A killed ingest leaves the embedded case consistent, and a rerun completes the file."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.run import ingest_files

MAPPING = Path(__file__).parent / "fixtures" / "ingest" / "mappings" / "remittances.yaml"

# Runs in a child process: the ingest dies (SIGKILL, no clean-up of any kind) when the store
# asks for the fourth batch, i.e. with three batches written inside the file's transaction.
_CHILD = """
import os, signal, sys
from pathlib import Path
import ringmap.ingest.engine as engine
import ringmap.ingest.run as run
from ringmap.graphs.embedded import EmbeddedStore

inner = engine.load_batches

def dying(*args, **kwargs):
    for n, batch in enumerate(inner(*args, **kwargs)):
        if n == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        yield batch

engine.load_batches = dying
store, data, mapping, quarantine = sys.argv[1:]
run.ingest_files(EmbeddedStore(Path(store)), [(data, mapping, None)],
                 quarantine_dir=Path(quarantine), batch_size=25)
"""


def _evidence(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["exhibit_no", "victim_ref", "first_name", "last_name", "victim_phone",
                         "service", "mtcn", "amount_usd", "sent", "card_number", "agent_ref",
                         "agent_imei"])
        for i in range(rows):
            phone = "12" if i % 30 == 0 else f"0917 {i:03d} {i:04d}"
            writer.writerow([f"EX-{i}", f"V{i}", "N", f"L{i}", phone, "Western Union",
                             f"MT{i}", "100", "01/05/2014 10:00", "4111 1111 1111 1111",
                             f"A{i % 9}", ""])
    return path


def test_killed_ingest_leaves_nothing_half_written_and_rerun_completes(tmp_path: Path) -> None:
    data = _evidence(tmp_path / "remittances.csv", 200)
    store_path = tmp_path / "case.db"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(store_path), str(data), str(MAPPING),
         str(tmp_path / "q")], env=env, capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr

    with EmbeddedStore(store_path) as store:
        assert store.file_loads() == []
        assert store.counts().total_nodes == 0
        assert store.counts().total_relationships == 0
        assert [r.finished for r in store.runs()] == [None]  # the run began, never finished
        assert not list((tmp_path / "q").glob("*.csv"))  # no quarantine for an unloaded file

        (result,) = ingest_files(store, [(data, MAPPING, None)], batch_size=25,
                                 quarantine_dir=tmp_path / "q").files
        assert result.status == "loaded"
        assert (result.read, result.loaded, result.duplicate, result.rejected) == (200, 193, 0, 7)
        assert store.counts().nodes["Person"] == 200 - 7 + 9
        (load,) = store.file_loads()
        assert load.complete and load.last_row == 201
    assert len((tmp_path / "q" / Path(result.quarantine or "").name).read_text().splitlines()) == 8

"""issue 14: the engine reading and normalising in a worker process while this one stores
(``ingest_files(parallel=...)``) gives the same store, reports, quarantine and progress as the
engine running in the storing process, fails the same way, and leaves nothing half-written."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import ringmap.ingest.run as run
from ringmap.errors import InputError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import BatchColumns, Edge, Grading, Node, Seen
from ringmap.ingest.case import load_case
from ringmap.ingest.engine import BatchBuilder
from ringmap.ingest.ftm import FtmFormat
from ringmap.ingest.run import CheckedTask, check_files, ingest_files
from ringmap.synth import SynthParams, generate
from ringmap.testing import store_fingerprint

ROOT = Path(__file__).resolve().parents[1]
ALEPH = Path(__file__).parent / "fixtures" / "ftm" / "aleph.ftm.json"


@pytest.fixture(scope="module")
def noisy_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raw synthetic case with rejected rows and skipped entities in several files."""
    folder = tmp_path_factory.mktemp("ahead") / "case"
    generate(folder, SynthParams(cells=3, seed=41, noise=0.3, victims_per_cell=12, raw=True))
    return folder


def _tasks(case: Path) -> list[CheckedTask]:
    return check_files([*load_case(case), (ALEPH, FtmFormat(), Grading.parse("C3"))])


class _Recorded:
    """A :data:`ringmap.perf.Progress` that writes down what it is told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, int, list[int]]] = []

    @contextmanager
    def __call__(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        positions: list[int] = []
        self.told.append((label, total, positions))
        yield positions.append


def _ingest(case: Path, work: Path, parallel: bool, **kwargs: Any
            ) -> tuple[dict[str, str], list[dict[str, Any]], list[tuple[str, int, list[int]]]]:
    progress = _Recorded()
    tasks = _tasks(case)
    assert run._forking(tasks, parallel) is parallel  # the path asked for is the path taken
    with EmbeddedStore(work / "case.db") as store:
        report = ingest_files(store, tasks, run_id="ahead", quarantine_dir=work / "q",
                              progress=progress, parallel=parallel, **kwargs)
    assert not list((work / "q").glob(".*"))  # no temporary left behind
    files = [{k: v.replace(str(work), "WORK") if isinstance(v, str) else v
              for k, v in f.model_dump().items()} for f in report.files]
    return store_fingerprint(work / "case.db", work / "q"), files, progress.told


def test_issue14_engine_in_a_worker_gives_the_same_store_reports_and_progress(
        noisy_case: Path, tmp_path: Path) -> None:
    here = _ingest(noisy_case, tmp_path / "here", parallel=False, batch_size=40)
    ahead = _ingest(noisy_case, tmp_path / "ahead", parallel=True, batch_size=40)
    assert ahead[0] == here[0]
    assert ahead[1] == here[1]
    assert ahead[2] == here[2]
    files = here[1]
    assert sum(f["rejected"] for f in files) > 0 and any(f["skipped"] for f in files)
    assert sum(len(positions) for *_, positions in here[2]) > len(files)  # ticks, not just ends


def test_issue14_a_second_run_in_a_worker_finds_every_file_ingested(
        noisy_case: Path, tmp_path: Path) -> None:
    first = _ingest(noisy_case, tmp_path, parallel=True)
    fingerprint, files, told = _ingest(noisy_case, tmp_path, parallel=True)
    assert (fingerprint["nodes"], fingerprint["edges"]) == (first[0]["nodes"], first[0]["edges"])
    assert {f["status"] for f in files} == {"already ingested"}
    assert told == []


def test_issue14_a_failing_worker_raises_the_same_error_and_stores_nothing_of_the_file(
        noisy_case: Path, tmp_path: Path) -> None:
    errors = {}
    for parallel in (False, True):
        case = tmp_path / f"case-{parallel}"
        shutil.copytree(noisy_case, case)
        tasks = _tasks(case)
        broken = next(t for t in tasks if t.file.name == "remittances.csv")
        broken.file.write_text("nothing,here\n1,2\n", encoding="utf-8")  # checked, then changed
        work = tmp_path / f"work-{parallel}"
        with EmbeddedStore(work / "case.db") as store:
            with pytest.raises(InputError) as raised:
                ingest_files(store, tasks, run_id="ahead", quarantine_dir=work / "q",
                             parallel=parallel)
            errors[parallel] = str(raised.value).replace(str(case), "CASE")
            loaded = {Path(load.source_file).name for load in store.file_loads()}
        before = [t.file.name for t in tasks[:tasks.index(broken)]]
        assert loaded == set(before)  # the files before it are in; nothing of it
        assert not list((work / "q").glob(".*"))
        assert not list((work / "q").glob("remittances*"))
    assert errors[True] == errors[False]
    assert "missing column" in errors[True]


# Runs in a child process: the storing process dies (SIGKILL, no clean-up of any kind) when
# the store writes its fourth batch, the worker reading on.
_CHILD = """
import os, signal, sys
from pathlib import Path
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.case import load_case
from ringmap.ingest.run import ingest_files

inner = EmbeddedStore._write_batch
written = []

def dying(self, *args):
    written.append(1)
    if len(written) == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    inner(self, *args)

EmbeddedStore._write_batch = dying
store, case, quarantine = sys.argv[1:]
ingest_files(EmbeddedStore(Path(store)), load_case(Path(case)), quarantine_dir=Path(quarantine),
             batch_size=25, parallel=True)
"""


def test_issue14_killed_while_a_worker_reads_leaves_nothing_and_a_rerun_completes(
        noisy_case: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "case.db"), str(noisy_case),
         str(tmp_path / "q")], env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stderr == ""
    with EmbeddedStore(tmp_path / "case.db") as store:
        files = len(store.file_loads())
        assert [r.finished for r in store.runs()] == [None]
    assert files < len(load_case(noisy_case))
    assert not list((tmp_path / "q").glob("*.csv"))  # no quarantine of a file not stored

    again = _ingest(noisy_case, tmp_path, parallel=True, batch_size=25)
    whole = _ingest(noisy_case, tmp_path / "whole", parallel=False, batch_size=25)
    assert [f["status"] for f in again[1]] == (
        ["already ingested"] * files + [f["status"] for f in whole[1][files:]])
    assert again[0]["nodes"] == whole[0]["nodes"]


def test_issue14_the_worker_is_used_where_it_pays_and_can_apply(noisy_case: Path) -> None:
    tasks = _tasks(noisy_case)
    assert not run._forking(tasks, None)  # a few hundred kB: read here
    assert run._forking(tasks, True)
    assert not run._forking([*tasks, tasks[0]], True)  # a file twice: the second waits
    assert not run._forking(tasks, False)


def test_issue_14_a_batch_shipped_as_columns_is_rebuilt_as_it_was() -> None:
    # the worker ships a batch's items as columns, their rows beside them: the store's
    # process gets the same nodes, relationships, sightings (an end seen on no row
    # included) and references, in the same order
    builder = BatchBuilder()
    builder.add(3, "ref-3", [("A:1", "Account", {"handle": "x"}, 0), ("P:2", "Phone", {}, 0)],
                [("USES", "A:1", "P:2", {"n": 1}, 0)])
    builder.add(5, None, [("A:1", "Account", {"handle": "y"}, 0)],
                [("USES", "A:1", "P:2", {}, 0), ("CONTACTED", "A:1", "A:9", {}, 0)])
    builder.end("A:9", "Account")
    columns = builder.batch(5)
    assert pickle.loads(pickle.dumps(columns)) == columns
    batch = columns.batch()
    assert BatchColumns.of(batch) == columns
    assert (batch.nodes, batch.edges, batch.last_row) == (
        [Node("A:1", "Account", {"handle": "y"}), Node("P:2", "Phone"),
         Node("A:9", "Account")],
        [Edge("USES", "A:1", "P:2", {"n": 1}), Edge("CONTACTED", "A:1", "A:9")], 5)
    seen = batch.sightings
    assert isinstance(seen, Seen)
    assert list(seen.nodes.items()) == [("A:1", [3, 5]), ("P:2", [3])]
    assert list(seen.edges.items()) == [(("USES", "A:1", "P:2"), [3, 5]),
                                        (("CONTACTED", "A:1", "A:9"), [5])]
    assert seen.refs == {3: "ref-3"}

"""Ingest evidence files into a store: the library entry point of ``ringmap ingest`` and ``run``.

Every file is checked before anything is written (readable, right encoding, every mapped
column present); then each file is loaded once: the SHA-256 of the file and the mapping digest
identify the load in the store's ledger, so ingesting the same file with the same mapping again
changes nothing, and a file whose earlier load was killed part-way is resumed.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import pickle
import queue
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel, Field

from ringmap.errors import ConfigError, RingmapError
from ringmap.fileio import input_file, remove_stale_temporaries
from ringmap.graphs.model import Batch, BatchColumns, FileLoad, Grading, IngestRun, utcnow
from ringmap.graphs.secrets import load_key
from ringmap.graphs.stats import every_row_rejected
from ringmap.graphs.store import Store
from ringmap.ingest import engine, ftm
from ringmap.ingest.engine import Quarantine, compile_mapping
from ringmap.ingest.ftm import FtmFormat
from ringmap.ingest.mapping import Mapping, load_mapping
from ringmap.ingest.readers import Table, open_table, scan_file, source_format
from ringmap.perf import Progress, paused_gc

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "CheckedTask",
    "FileReport",
    "IngestReport",
    "IngestTask",
    "Status",
    "check_files",
    "ingest_files",
    "new_run_id",
    "quarantine_name",
]

DEFAULT_BATCH_SIZE = 5000

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")

Status = Literal["loaded", "resumed", "already ingested", "rejected"]
"""What became of a file: ``rejected`` when every row it has was rejected (then or earlier):
its rows are accounted and quarantined, but nothing of it is in the case."""


Reading = Mapping | FtmFormat
"""How a file is read: a mapping for a table, :class:`~ringmap.ingest.ftm.FtmFormat` for
FollowTheMoney entities."""


class IngestTask(NamedTuple):
    """One file to ingest, the mapping to read it with and an optional grading override."""

    file: Path
    mapping: Reading
    grading: Grading | None = None


class FileReport(BaseModel):
    """What became of one file: its row accounting and status."""

    file: str
    mapping: str
    sha256: str
    read: int
    loaded: int
    duplicate: int
    rejected: int
    status: Status
    quarantine: str | None = None
    skipped: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="optional entities/relationships skipped on loaded "
                                          "rows, per entity and reason")
    skip_log: str | None = None

    @property
    def skipped_total(self) -> int:
        """How many optional entities and relationships were skipped."""
        return sum(sum(counts.values()) for counts in self.skipped.values())


class IngestReport(BaseModel):
    """What one ingest run did, file by file."""

    run_id: str
    files: list[FileReport]

    def totals(self) -> dict[str, int]:
        """Row counts over all files, and the number of files."""
        keys = ("read", "loaded", "duplicate", "rejected")
        totals = {k: sum(getattr(f, k) for f in self.files) for k in keys}
        return {"files": len(self.files), **totals}

    def rows(self) -> list[dict[str, Any]]:
        """One row per file, for tables and JSON."""
        columns = ("file", "read", "loaded", "duplicate", "rejected", "status", "quarantine")
        return [{**{c: getattr(f, c) for c in columns}, "skipped": f.skipped_total}
                for f in self.files]

    def rejected_whole(self) -> str | None:
        """One line naming every file of which every row was rejected, or ``None``."""
        rejected = [f for f in self.files if f.status == "rejected"]
        if not rejected:
            return None
        return "every row of " + ", ".join(
            f"{f.file} ({f.rejected} of {f.read}; see {f.quarantine})" for f in rejected
        ) + " was rejected: nothing of it is in the case"


def new_run_id() -> str:
    """A time-sortable, unique run id (``20260123T004500Z-1a2b3c4d``)."""
    return f"{utcnow():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class CheckedTask:
    """A task whose file was read once: hash known, encoding and columns fine."""

    file: Path
    mapping: Reading
    grading: Grading
    sha256: str


TaskLike = IngestTask | CheckedTask | tuple[Path | str, Reading | Path | str, Grading | None]


def check_files(tasks: Iterable[TaskLike]) -> list[CheckedTask]:
    """Read every file once (hash, encoding, mapped columns) before anything is written.

    Raises
    ------
    InputError
        A file cannot be read, is not evidence (:func:`ringmap.fileio.input_file`), has the
        wrong encoding or lacks a mapped column.
    MappingError
        A mapping file does not validate.
    """
    return [t if isinstance(t, CheckedTask) else _check(_task(t)) for t in tasks]


def _check(task: IngestTask) -> CheckedTask:
    path, mapping = Path(task.file), task.mapping
    input_file(path)
    if isinstance(mapping, FtmFormat):
        return CheckedTask(path, mapping, task.grading or mapping.grading,
                           scan_file(path, "utf-8-sig"))
    text = source_format(path, mapping.source) != "xlsx"
    sha = scan_file(path, mapping.source.encoding if text else None)
    with open_table(path, mapping.source, mapping.columns()):
        pass
    return CheckedTask(path, mapping, task.grading or mapping.source.grading, sha)


def ingest_files(
    store: Store,
    tasks: Iterable[TaskLike],
    *,
    run_id: str | None = None,
    quarantine_dir: Path = Path("quarantine"),
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    command: str = "ingest",
    bulk: bool | None = None,
    parallel: bool | None = None,
) -> IngestReport:
    """Ingest evidence files into ``store`` and record the run.

    Parameters
    ----------
    store
        The case store.
    tasks
        ``(file, mapping, grading_override)`` per file; the mapping as a :class:`Mapping` or
        the path of a mapping file; the grading ``None`` to use the mapping's. Tasks from
        :func:`check_files` are not read again before loading.
    run_id
        The ingest run's id; a new time-sortable id by default.
    quarantine_dir
        Where rejected rows go, one CSV per file and mapping (:func:`quarantine_name`).
    batch_size
        Rows per batch handed to the store.
    progress
        Reports each file's progress (bytes read), e.g. a bar drawn by the CLI.
    command
        What started the run, for the run record.
    bulk
        Load a new case through the store's bulk path (:meth:`Store.bulk_loading`): ``True``
        asks for it (refused where it cannot apply), ``None`` takes it where it applies.
    parallel
        Read and normalise the files in a worker process while this one stores them (the
        same store, the same reports): ``True`` wherever it can apply (a ``fork`` start
        method), ``False`` never, ``None`` where it pays (a second core, files of some size).

    Raises
    ------
    InputError
        A file cannot be read, has the wrong encoding or lacks a mapped column; raised before
        anything is written.
    StoreBusy
        Another process is writing to the case (``store.writing`` held around this call
        with ``wait=True`` waits for it instead).
    MappingError
        A mapping file does not validate.

    Examples
    --------
    >>> report = ingest_files(store, [("calls.csv", "mappings/calls.yaml", None)])
    ... # doctest: +SKIP
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    checked = check_files(tasks)
    run = IngestRun(run_id=run_id or new_run_id(), command=command)
    key = load_key() if any(isinstance(c.mapping, FtmFormat) or c.mapping.card_columns()
                            for c in checked) else None
    size = sum(c.file.stat().st_size for c in checked)
    with store.writing(command), paused_gc(), store.bulk_loading(bulk, size):
        store.record_run(run)  # one writer: a second one is told who writes
        if _forking(checked, parallel):
            reports = _ingest_ahead(store, checked, run.run_id, quarantine_dir, batch_size,
                                    progress, key)
        else:
            reports = [_ingest_one(store, c, run.run_id, quarantine_dir, batch_size, progress,
                                   key) for c in checked]
        run.finished = utcnow()
        run.files = [r.sha256 for r in reports]
        store.record_run(run)
    return IngestReport(run_id=run.run_id, files=reports)


def _task(raw: IngestTask | tuple[Any, ...]) -> IngestTask:
    file, mapping, grading = raw
    if not isinstance(mapping, Mapping | FtmFormat):
        mapping = load_mapping(Path(mapping))
    return IngestTask(Path(file), mapping, grading)


def quarantine_name(file: Path, sha256: str, mapping: str, digest: str) -> str:
    """The quarantine file of one load: ``<file-stem>-<sha8>-<mapping>-<digest8>.csv``.

    One per file *and* mapping, so loading a file with a second mapping keeps the first
    mapping's rejected rows; the mapping's name (its file stem by default) is cut down to
    characters safe in a file name, and its digest tells apart two versions of one mapping.

    >>> quarantine_name(Path("in/calls.csv"), "ab" * 32, "../calls v2", "cd" * 32)
    'calls-abababab-calls_v2-cdcdcdcd.csv'
    """
    name = _UNSAFE.sub("_", mapping).strip("._")[:40]
    return f"{file.stem}-{sha256[:8]}-{name + '-' if name else ''}{digest[:8]}.csv"


def _report(checked: CheckedTask, load: FileLoad, status: Status) -> FileReport:
    return FileReport(file=str(checked.file), mapping=checked.mapping.name, sha256=checked.sha256,
                      read=load.read, loaded=load.loaded, duplicate=load.duplicate,
                      rejected=load.rejected, quarantine=load.quarantine,
                      status="rejected" if every_row_rejected(load) else status,
                      skipped=load.skipped, skip_log=load.skip_log)


@dataclass(frozen=True)
class _Job:
    """A file to load: its ledger record (kept current while it loads), the row to resume
    after and its quarantine's path."""

    checked: CheckedTask
    load: FileLoad
    resume_row: int
    quarantine: Path
    status: Status


def _plan(store: Store, checked: CheckedTask, run_id: str, quarantine_dir: Path
          ) -> _Job | FileReport:
    """What loading ``checked`` takes, or its report when it is already ingested."""
    mapping = checked.mapping
    digest = mapping.digest()
    earlier = store.file_load(checked.sha256, digest)
    if earlier is not None and earlier.complete:
        return _report(checked, earlier, "already ingested")
    load = FileLoad(sha256=checked.sha256, source_file=str(checked.file), mapping=mapping.name,
                    mapping_digest=digest, run_id=run_id, grading=checked.grading)
    return _Job(checked, load, earlier.last_row if earlier is not None else 0,
                quarantine_dir / quarantine_name(checked.file, checked.sha256, mapping.name,
                                                 digest),
                "resumed" if earlier is not None else "loaded")


def _ingest_one(store: Store, checked: CheckedTask, run_id: str, quarantine_dir: Path,
                batch_size: int, progress: Progress | None, key: bytes | None) -> FileReport:
    job = _plan(store, checked, run_id, quarantine_dir)
    if isinstance(job, FileReport):
        return job
    with _engine_of(job, batch_size, progress, key) as (batches, quarantine, skip_log):
        done = _store(store, job.load, batches, quarantine, skip_log)
    return _report(checked, done, job.status)


@contextmanager
def _engine_of(job: _Job, batch_size: int, progress: Progress | None, key: bytes | None
               ) -> Iterator[tuple[Iterator[BatchColumns], Quarantine, Quarantine]]:
    """The engine reading ``job``'s file: its batches (``job.load`` kept current), its
    quarantine and its skip log, with the file open and its progress reported; what it held
    is freed when the block ends.

    Ingest pauses the cyclic collector (:func:`~ringmap.perf.paused_gc`), and a cycle that
    holds a frame under the engine's holds every frame under it: the engine's, with the
    file's duplicate signatures, memos and compiled mapping (issue 14: the worker process
    kept every file's engine, at 10M rows 2 GB, through phonenumbers' failures, which
    :func:`~ringmap.graphs.normalise.parse_phone` now clears). A reader's own cycles (an
    XLSX workbook's) and any such are collected after each file: the youngest generation
    only, where the collector paused leaves every object made since it paused, the file's
    among them. A full collection walked the whole process each time: the forked worker's
    inheritance (1.4 of its 19 CPU-s at 600 cells), a test session's every object.
    """
    try:
        with _reading(job, batch_size, progress, key) as found:
            yield found
    finally:
        gc.collect(0)


@contextmanager
def _reading(job: _Job, batch_size: int, progress: Progress | None, key: bytes | None
             ) -> Iterator[tuple[Iterator[BatchColumns], Quarantine, Quarantine]]:
    checked, mapping, name = job.checked, job.checked.mapping, job.quarantine
    if isinstance(mapping, FtmFormat):
        assert key is not None
        quarantine = Quarantine(name, ftm.COLUMNS)
        skip_log = Quarantine(name.with_name(name.stem + "-skipped.csv"), ftm.COLUMNS)
        size = max(checked.file.stat().st_size, 1)
        with progress(checked.file.name, size) if progress else nullcontext(None) as update:
            yield ftm.ftm_batches(checked.file, mapping, job.load, key, quarantine, skip_log,
                                  batch_size=batch_size, resume_row=job.resume_row,
                                  on_progress=update), quarantine, skip_log
        return
    with open_table(checked.file, mapping.source, mapping.columns()) as table:
        index = table.index
        masked = [index[c] for c in mapping.card_columns()]
        quarantine = Quarantine(name, table.columns, masked)
        skip_log = Quarantine(name.with_name(name.stem + "-skipped.csv"), table.columns, masked)
        compiled = compile_mapping(mapping, index, key)
        with _progress_bar(table, progress) as tick:
            yield engine.load_batches(table.rows, compiled, job.load, quarantine,
                                      batch_size=batch_size, resume_row=job.resume_row,
                                      on_progress=tick, skip_log=skip_log), quarantine, skip_log


def _store(store: Store, load: FileLoad, batches: Iterable[Batch | BatchColumns],
           quarantine: _Kept, skip_log: _Kept) -> FileLoad:
    """Hand the batches to the store; the quarantine and skip log are kept only if it took
    the file."""
    try:
        done = store.load_file(load, batches)
    except BaseException:
        quarantine.discard()
        skip_log.discard()
        raise
    quarantine.commit()
    skip_log.commit()
    return done


# -- the engine in a worker process ------------------------------------------------------------
#
# Reading and normalising a file (the engine) and writing its batches (the store) each take
# about half an ingest's CPU. With a second core the engine runs in a forked worker (the
# mappings, the key and the memos inherited, nothing pickled on the way in) and streams each
# file's batches, in order, through a bounded queue to this process, which stores them exactly
# as the engine running here would hand them: the engine reads ahead, later files included,
# while the store writes. The worker writes the quarantine and skip log to temporaries it
# seals; they are moved into place here only once the store took the file.

#: Files smaller than this in all are read here: starting a worker costs more than it saves.
_AHEAD_MIN_BYTES = 2 << 20
#: Batches the worker may read ahead of the store.
_AHEAD_BATCHES = 8
#: Seconds between checks that the other process is still there while waiting on it.
_POLL_S = 0.5

#: What the worker sends: ("open", label, total) when it opens a file, ("at", position) as it
#: reads, ("batch", account, batch), ("end", account, quarantine, skip log) after the file's
#: last batch, ("error", exception) when it fails.
_Message = tuple[Any, ...]

#: The ledger fields the engine keeps current, sent with each batch.
_ACCOUNT = ("read", "loaded", "duplicate", "rejected", "last_row", "quarantine", "skipped",
            "skip_log")


class _Kept(Protocol):
    """A quarantine or skip log: moved into place when the store took the file, else dropped."""

    def commit(self) -> str | None: ...

    def discard(self) -> None: ...


class _Handed:
    """A quarantine or skip log the worker wrote and sealed (:meth:`Quarantine.seal`)."""

    def __init__(self) -> None:
        self.sealed: tuple[Path, Path] | None = None  # (its path, the temporary)

    def commit(self) -> str | None:
        if self.sealed is None:
            return None
        path, tmp = self.sealed
        os.replace(tmp, path)
        return str(path)

    def discard(self) -> None:
        if self.sealed is not None:
            self.sealed[1].unlink(missing_ok=True)


def _forking(checked: list[CheckedTask], parallel: bool | None) -> bool:
    """Whether the engine runs in a worker: asked for (``parallel``), or by default where a
    second core and enough bytes make it pay; never where it cannot apply (no fork, threads
    that a fork would copy mid-step, a file loaded twice in one run, whose second load
    depends on how the first ended)."""
    if parallel is False or "fork" not in mp.get_all_start_methods():
        return False
    if threading.active_count() > 1:
        return False
    keys = {(c.sha256, c.mapping.digest()) for c in checked}
    if len(keys) < len(checked):
        return False
    return parallel is True or ((os.cpu_count() or 1) > 1 and sum(
        c.file.stat().st_size for c in checked) >= _AHEAD_MIN_BYTES)


def _ingest_ahead(store: Store, checked: list[CheckedTask], run_id: str, quarantine_dir: Path,
                  batch_size: int, progress: Progress | None, key: bytes | None
                  ) -> list[FileReport]:
    """:func:`_ingest_one` for every file, the engine running in a worker."""
    plans = [_plan(store, c, run_id, quarantine_dir) for c in checked]
    jobs = [p for p in plans if isinstance(p, _Job)]
    if not jobs:
        return [p for p in plans if isinstance(p, FileReport)]
    reports: list[FileReport] = []
    with _Worker(jobs, batch_size, key, quarantine_dir) as worker:
        for plan in plans:
            if isinstance(plan, FileReport):
                reports.append(plan)
                continue
            quarantine, skip_log = _Handed(), _Handed()
            label, total = worker.opened()
            with progress(label, total) if progress else nullcontext(None) as update:
                batches = worker.batches(plan.load, update, quarantine, skip_log)
                done = _store(store, plan.load, batches, quarantine, skip_log)
            reports.append(_report(plan.checked, done, plan.status))
    return reports


class _Worker:
    """The engine of ``jobs``, one after the other, in a forked process."""

    def __init__(self, jobs: list[_Job], batch_size: int, key: bytes | None,
                 quarantine_dir: Path) -> None:
        context = mp.get_context("fork")
        self._queue: mp.Queue[bytes] = context.Queue(_AHEAD_BATCHES)
        self._dir = quarantine_dir
        self._process = context.Process(
            target=_serve, args=(jobs, batch_size, key, self._queue, os.getpid()),
            name="ringmap-ingest-engine", daemon=True)

    def __enter__(self) -> _Worker:
        self._process.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *_exc: object) -> None:
        if kind is None:  # every file's end was received: the worker is leaving
            self._process.join(60)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._queue.close()
        if self._dir.is_dir():  # what it left unsealed when it was stopped
            remove_stale_temporaries(self._dir)

    def _next(self) -> _Message:
        while True:
            try:
                data = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if self._process.is_alive():
                    continue
                try:  # sent just before it ended
                    data = self._queue.get(timeout=_POLL_S)
                except queue.Empty:
                    raise RingmapError(
                        f"the process reading the evidence stopped (exit code "
                        f"{self._process.exitcode}) before it finished; nothing of the file "
                        f"it was reading was stored") from None
            message: _Message = pickle.loads(data)
            if message[0] == "error":
                raise message[1]
            return message

    def opened(self) -> tuple[str, int]:
        """The next file's progress label and total."""
        _kind, label, total = self._next()
        return label, total

    def batches(self, load: FileLoad, update: Callable[[int], None] | None,
                quarantine: _Handed, skip_log: _Handed) -> Iterator[BatchColumns]:
        """The file's batches, as the engine sent them (columns: pickled and read in a fifth
        less CPU than a tuple per item, and written by the embedded store as they are),
        ``load`` kept current as the engine keeps it."""
        while True:
            message = self._next()
            if message[0] == "at":
                if update is not None:
                    update(message[1])
                continue
            for name, value in zip(_ACCOUNT, message[1], strict=True):
                setattr(load, name, value)
            if message[0] == "end":
                quarantine.sealed, skip_log.sealed = message[2], message[3]
                return
            yield message[2]


def _serve(jobs: list[_Job], batch_size: int, key: bytes | None, out: mp.Queue[bytes],
           parent: int) -> None:
    """The worker: every job's messages (:data:`_Message`), in order."""

    def send(message: _Message) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        while True:
            try:
                out.put(data, timeout=_POLL_S)
                return
            except queue.Full:
                if os.getppid() != parent:  # the store's process is gone: so is the run
                    os._exit(1)

    @contextmanager
    def announced(label: str, total: int) -> Iterator[Callable[[int], None]]:
        send(("open", label, total))
        yield lambda position: send(("at", position))

    try:
        for job in jobs:
            load = job.load
            with _engine_of(job, batch_size, announced, key) as (batches, quarantine, skip_log):
                for batch in batches:
                    send(("batch", _account(load), batch))
                send(("end", _account(load), _sealed(quarantine), _sealed(skip_log)))
    except BaseException as exc:  # told to the store's process, which raises it
        send(("error", _portable(exc)))
        raise SystemExit(1) from exc  # quietly: no traceback here


def _account(load: FileLoad) -> tuple[Any, ...]:
    return tuple(getattr(load, name) for name in _ACCOUNT)


def _sealed(kept: Quarantine) -> tuple[Path, Path] | None:
    tmp = kept.seal()
    return None if tmp is None else (kept.path, tmp)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (every :class:`RingmapError` does), else a plain error
    naming its kind and message."""
    try:
        copy: BaseException = pickle.loads(pickle.dumps(exc))
    except (pickle.PicklingError, TypeError, AttributeError):  # arguments that do not pickle
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return copy


@contextmanager
def _progress_bar(table: Table, progress: Progress | None) -> Iterator[Callable[[], None] | None]:
    """A callback telling ``progress`` how far into ``table`` the reader is, or ``None``."""
    if progress is None:
        yield None
        return
    with progress(table.path.name, max(table.size, 1)) as update:
        yield lambda: update(table.position())


"""Ingest evidence files into a store: the library entry point of ``ringmap ingest`` and ``run``.

Every file is checked before anything is written (readable, right encoding, every mapped
column present); then each file is loaded once: the SHA-256 of the file and the mapping digest
identify the load in the store's ledger, so ingesting the same file with the same mapping again
changes nothing, and a file whose earlier load was killed part-way is resumed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field

from ringmap.errors import ConfigError
from ringmap.fileio import input_file
from ringmap.graphs.model import Batch, FileLoad, Grading, IngestRun, utcnow
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
        reports = [_ingest_one(store, c, run.run_id, quarantine_dir, batch_size, progress, key)
                   for c in checked]
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


def _ingest_one(store: Store, checked: CheckedTask, run_id: str, quarantine_dir: Path,
                batch_size: int, progress: Progress | None, key: bytes | None) -> FileReport:
    mapping = checked.mapping
    digest = mapping.digest()
    earlier = store.file_load(checked.sha256, digest)
    if earlier is not None and earlier.complete:
        return _report(checked, earlier, "already ingested")
    load = FileLoad(sha256=checked.sha256, source_file=str(checked.file), mapping=mapping.name,
                    mapping_digest=digest, run_id=run_id, grading=checked.grading)
    resume_row = earlier.last_row if earlier is not None else 0
    name = quarantine_dir / quarantine_name(checked.file, checked.sha256, mapping.name, digest)
    if isinstance(mapping, FtmFormat):
        assert key is not None
        quarantine = Quarantine(name, ftm.COLUMNS)
        skip_log = Quarantine(name.with_name(name.stem + "-skipped.csv"), ftm.COLUMNS)
        size = max(checked.file.stat().st_size, 1)
        with progress(checked.file.name, size) if progress else nullcontext(None) as update:
            batches = ftm.ftm_batches(checked.file, mapping, load, key, quarantine, skip_log,
                                      batch_size=batch_size, resume_row=resume_row,
                                      on_progress=update)
            done = _store(store, load, batches, quarantine, skip_log)
        return _report(checked, done, "resumed" if earlier is not None else "loaded")
    with open_table(checked.file, mapping.source, mapping.columns()) as table:
        index = table.index
        masked = [index[c] for c in mapping.card_columns()]
        quarantine = Quarantine(name, table.columns, masked)
        skip_log = Quarantine(name.with_name(name.stem + "-skipped.csv"), table.columns, masked)
        compiled = compile_mapping(mapping, index, key)
        with _progress_bar(table, progress) as tick:
            batches = engine.load_batches(table.rows, compiled, load, quarantine,
                                          batch_size=batch_size, resume_row=resume_row,
                                          on_progress=tick, skip_log=skip_log)
            done = _store(store, load, batches, quarantine, skip_log)
    return _report(checked, done, "resumed" if earlier is not None else "loaded")


def _store(store: Store, load: FileLoad, batches: Iterable[Batch], quarantine: Quarantine,
           skip_log: Quarantine) -> FileLoad:
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


@contextmanager
def _progress_bar(table: Table, progress: Progress | None) -> Iterator[Callable[[], None] | None]:
    """A callback telling ``progress`` how far into ``table`` the reader is, or ``None``."""
    if progress is None:
        yield None
        return
    with progress(table.path.name, max(table.size, 1)) as update:
        yield lambda: update(table.position())


"""The audit log: every ingest, consultation and export appended as one JSON line.

Who (``RINGMAP_USER`` or the login name), when (UTC), what (command and arguments, with any
secret-looking argument redacted), why (``--reason`` where given) and counts; card numbers
anywhere in an entry are masked by :mod:`ringmap.privacy`. An action that writes or exports is
recorded twice (:func:`audited`): its intent before it starts, and its completion after; no
intent written, no action. The log lives in
``RINGMAP_AUDIT_LOG`` or beside the embedded case file (``<store>.audit.jsonl``), or in
``./ringmap-audit.jsonl`` for a Neo4j store.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

from ringmap.errors import ConfigError
from ringmap.fileio import make_dirs, open_private
from ringmap.graphs.model import utcnow
from ringmap.privacy import mask_card_numbers, mask_value

__all__ = ["Phase", "audit_path", "audited", "current_user", "record", "redact_args"]

Phase = Literal["intent", "done", "failed"]

_SECRET_WORDS = re.compile(r"pass(word)?|secret|token|key|credential", re.IGNORECASE)


def audit_path(store_path: str | os.PathLike[str] | None = None) -> Path:
    """Where the audit log for this store lives."""
    configured = os.environ.get("RINGMAP_AUDIT_LOG")
    if configured:
        return Path(configured)
    if store_path is not None:
        return Path(f"{os.fspath(store_path)}.audit.jsonl")
    return Path("ringmap-audit.jsonl")


def redact_args(args: Sequence[str]) -> list[str]:
    """Arguments with the value of any secret-looking option replaced by ``***`` and every
    card number masked to BIN + last four (whatever command an analyst typed it into).

    >>> redact_args(["--password", "hunter2", "--neo4j-password=x", "--out", "d"])
    ['--password', '***', '--neo4j-password=***', '--out', 'd']
    >>> redact_args(["map", "entity", "card:4111 1111 1111 1111"])
    ['map', 'entity', 'card:411111******1111']
    """
    return [mask_card_numbers(arg) for arg in _hide_secrets(args)]


def _hide_secrets(args: Sequence[str]) -> list[str]:
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            out.append("***")
            hide_next = False
        elif arg.startswith("-") and _SECRET_WORDS.search(arg):
            if "=" in arg:
                out.append(arg.split("=", 1)[0] + "=***")
            else:
                out.append(arg)
                hide_next = True
        else:
            out.append(arg)
    return out


def current_user() -> str:
    """Who runs this command: ``RINGMAP_USER`` or the login name."""
    try:
        return os.environ.get("RINGMAP_USER") or getpass.getuser()
    except OSError:  # no login name in some containers
        return f"uid:{os.getuid()}"


def record(
    path: Path,
    command: str,
    args: Sequence[str] = (),
    *,
    reason: str | None = None,
    counts: Mapping[str, Any] | None = None,
    store: str | None = None,
    phase: Phase | None = None,
    action: str | None = None,
) -> None:
    """Append one audit entry; a log that cannot be written is an error, not a silent skip.

    ``phase`` and ``action`` tie the entries of one :func:`audited` action together.
    """
    entry = {
        "time": utcnow().isoformat(),
        "user": current_user(),
        "command": command,
        "args": redact_args(args),
        "store": store,
        "reason": mask_value(reason),  # a reason may quote the card it is about
        "counts": mask_value(dict(counts or {})),
    }
    if phase is not None:
        entry |= {"phase": phase, "action": action}
    line = json.dumps(entry, ensure_ascii=False, default=str, sort_keys=True)
    try:
        make_dirs(path.parent)
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise ConfigError(f"cannot append to the audit log {path}: {exc.strerror}") from None


@contextmanager
def audited(
    path: Path,
    command: str,
    args: Sequence[str] = (),
    *,
    reason: str | None = None,
    store: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Audit an action that writes or exports: an ``intent`` entry before it, a ``done`` entry
    with the counts the block fills in after it, or ``failed`` with the error's kind.

    The intent is written first: when the log cannot be written the action does not happen
    (:class:`~ringmap.errors.ConfigError`). A killed action leaves its intent without a
    completion, so the log shows what was attempted.
    """
    action = uuid.uuid4().hex[:16]
    record(path, command, args, reason=reason, store=store, phase="intent", action=action)
    counts: dict[str, Any] = {}
    try:
        yield counts
    except BaseException as exc:
        with suppress(ConfigError):  # the action's own error is the one to report
            record(path, command, args, reason=reason, store=store, phase="failed",
                   action=action, counts={**counts, "error": type(exc).__name__})
        raise
    record(path, command, args, reason=reason, store=store, phase="done", action=action,
           counts=counts)

"""Files ringmap reads and writes: inputs checked before they are opened, outputs private and
written whole or not at all, and file content quoted in messages only as a short, masked
excerpt.

Case data is private by default: every file ringmap writes is created ``0600`` and every
folder ``0700``, whatever the process umask, unless ``RINGMAP_UMASK`` (octal, e.g. ``027`` to
share with the group) says otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ringmap.errors import ConfigError, ExportError, InputError

__all__ = [
    "atomic_file",
    "excerpt",
    "input_file",
    "make_dirs",
    "open_private",
    "private_umask",
    "remove_stale_temporaries",
    "temporary_suffix",
    "write_atomic",
]

DEFAULT_UMASK = 0o077

#: pseudo-file systems holding the machine's state (environment, memory, devices), not evidence
_SYSTEM_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))
#: a name as a table header spells it: words, digits, spaces and a little punctuation
_NAME = re.compile(r"[\w .,:;()#/&%+'-]{1,40}")
#: a long run of letters and digits with a digit in it: a key or a token, not a name
_TOKEN_LIKE = re.compile(r"(?=[A-Za-z0-9+/_=-]*\d)[A-Za-z0-9+/_=-]{16,}")
_NAME_DIGITS = 6  # a name with this many digits is a number (a card, a phone), not a name
_EXCERPT_CHARS = 4


def input_file(path: str | os.PathLike[str], *, within: Path | None = None) -> Path:
    """``path`` resolved (symlinks followed), once it is known to be a file ringmap may read.

    Parameters
    ----------
    path
        The file named by the user or by a case folder.
    within
        The folder the file must resolve into (a case folder), if any.

    Raises
    ------
    InputError
        The file does not exist, is not a regular file, lies outside ``within``, is a system
        file (``/proc``, ``/sys``, ``/dev``) or is ringmap's own hashing or signing key file.
    """
    from ringmap.graphs.secrets import key_file
    from ringmap.signing import signing_key_file

    try:
        real = Path(path).resolve(strict=True)
        info = real.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop; a NUL in the name
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if within is not None and not real.is_relative_to(within.resolve()):
        raise InputError(f"{path} is outside the case folder {within} (it resolves to {real})")
    if any(real.is_relative_to(tree) for tree in _SYSTEM_TREES):
        raise InputError(f"{path} is a system file ({real}), not evidence")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path} is not a regular file")
    for kind, keys in (("hashing", key_file), ("signing", signing_key_file)):
        try:
            key = keys().stat()
        except OSError:
            continue
        if (key.st_dev, key.st_ino) == (info.st_dev, info.st_ino):
            raise InputError(f"{path} is ringmap's {kind} key file, not evidence")
    return real


def excerpt(text: str) -> str:
    """``text`` from a file as it may appear in a message: a name as it is, anything else
    (long text, a ``KEY=value`` line, a key or number) cut to a short prefix with its digits
    masked, so that an error about a file never repeats the file.

    >>> excerpt("full_name")
    'full_name'
    >>> excerpt("NEO4J_PASSWORD=hunter2 RINGMAP_SECRET=x")
    'NEO#…(39 chars)'
    >>> excerpt("4111 1111 1111 1111 and more")
    '####…(28 chars)'
    """
    if (_NAME.fullmatch(text) and not _TOKEN_LIKE.search(text)
            and sum(c.isdigit() for c in text) < _NAME_DIGITS):
        return text
    prefix = "".join("#" if c.isdigit() else c if c.isprintable() else "?"
                     for c in text[:_EXCERPT_CHARS])
    return f"{prefix}…({len(text)} chars)"


def private_umask() -> int:
    """The umask ringmap writes case data with: ``RINGMAP_UMASK`` (octal), default ``077``.

    Raises
    ------
    ConfigError
        ``RINGMAP_UMASK`` is not an octal number up to ``777``.
    """
    text = os.environ.get("RINGMAP_UMASK")
    if not text:
        return DEFAULT_UMASK
    try:
        mask = int(text, 8)
    except ValueError:
        mask = -1
    if not 0 <= mask <= 0o777:
        raise ConfigError(f"RINGMAP_UMASK must be an octal umask such as 077, got {text!r}")
    return mask


def make_dirs(path: Path) -> None:
    """Make ``path`` and its missing parents, private (``0700`` unless ``RINGMAP_UMASK``)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        os.chmod(folder, 0o777 & ~private_umask())


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """A descriptor of ``path`` opened with ``flags``, the file private (``0600`` unless
    ``RINGMAP_UMASK``) even if it existed before."""
    fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o666 & ~private_umask())
    return fd


def remove_stale_temporaries(folder: Path) -> None:
    """Remove the ``.<name>.<pid>.tmp`` files and folders (a package's staging folder) in
    ``folder`` that a killed process left behind (its pid is gone); a live writer's are kept.
    Every writer that leaves such temporaries calls this before it writes beside them."""
    for stale in folder.glob(".*.tmp"):
        pid = stale.name[:-4].rpartition(".")[2]
        if pid.isdigit() and not _alive(int(pid)):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


def temporary_suffix() -> str:
    """The end of a temporary's name (``.<pid>.tmp``) by which
    :func:`remove_stale_temporaries` knows whether its writer lives."""
    return f".{os.getpid()}.tmp"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs. A zombie has ended and writes no more: where
    nothing reaps a killed writer's orphans (a container whose first process never waits),
    it keeps its pid for good."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:  # no /proc to ask (or it ended this instant: the next start sees it)
        return True
    return stat.rpartition(b")")[2].split()[:1] not in ([b"Z"], [b"X"])


@contextmanager
def atomic_file(path: Path) -> Iterator[TextIO]:
    """A text handle on a private temporary file beside ``path``, renamed onto ``path`` once
    the block ends, so the file is whole or absent; a killed writer's temporary is removed by
    the next write into the folder.

    Raises
    ------
    ExportError
        The folder or the file cannot be written.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        make_dirs(path.parent)
        remove_stale_temporaries(path.parent)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=temporary_suffix(),
                                    dir=path.parent)
        tmp = Path(name)
        os.fchmod(fd, 0o666 & ~private_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)  # gone already once the rename happened


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` (or bytes: a picture) to ``path`` through :func:`atomic_file`, so it is
    whole or absent."""
    with atomic_file(path) as handle:
        if isinstance(text, bytes):
            handle.buffer.write(text)
        else:
            handle.write(text)

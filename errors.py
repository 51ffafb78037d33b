"""The one exception hierarchy of ringmap.

Every error a user can cause derives from :class:`RingmapError` and is rendered by the CLI as a
single ``Error: <message>`` line with a non-zero exit code. Programming errors are *not* caught:
they keep their tracebacks.

::

    RingmapError
     ├── ConfigError            bad settings, missing secret, unknown option value
     ├── SchemaError            entity/relationship type or property not in the schema
     ├── NormalisationError     an identifier that cannot be normalised (bad Luhn, bad phone)
     ├── MappingError           a mapping file that does not validate (all problems at once)
     ├── InputError             unreadable evidence file, wrong encoding, missing column
     ├── StoreError             the store refused or failed an operation
     │    ├── StoreUnavailable  the store cannot be reached / opened (server down, bad auth)
     │    ├── QueryTimeout      a query ran past its time limit and was stopped
     │    └── StoreBusy         another writer holds the case
     ├── NotFound               an entity, cell or query that does not exist
     ├── AnalysisError          an analysis cannot run on this input (empty graph, bad params)
     └── ExportError            an export package cannot be written or does not verify
"""

from __future__ import annotations


class RingmapError(Exception):
    """Base class of every error a user can cause; rendered as one line by the CLI."""

    def one_line(self) -> str:
        """The message flattened to a single line."""
        return " ".join(str(self).split()) or type(self).__name__


class ConfigError(RingmapError):
    """A setting, option or secret is missing or invalid."""


class SchemaError(RingmapError):
    """A type, key or property is not part of the graph schema."""


class NormalisationError(RingmapError):
    """An identifier cannot be normalised into a key.

    ``reason`` says why without quoting the value (``phone: contains letters``), so that
    failures can be counted by cause; it defaults to the message.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason


class MappingError(RingmapError):
    """A mapping file is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in mapping: " + "; ".join(problems))


class InputError(RingmapError):
    """An evidence or input file cannot be read as expected."""


class StoreError(RingmapError):
    """The store refused or failed an operation."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or opened."""


class QueryTimeout(StoreError):
    """A query ran past its time limit; the server stopped it."""


class StoreBusy(StoreError):
    """Another process is writing to the case."""


class NotFound(RingmapError):
    """The named entity, cell, run or query does not exist."""


class AnalysisError(RingmapError):
    """An analysis cannot run on this input."""


class ExportError(RingmapError):
    """An export cannot be written, or a package does not verify."""

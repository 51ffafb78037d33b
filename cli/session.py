"""Shared pieces of the CLI: store options, output format, progress bars, the session that opens
the store and writes the audit log. The command modules beside this one use only these."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from ringmap import audit
from ringmap.errors import ConfigError
from ringmap.graphs.store import Store, StoreChoice
from ringmap.perf import Progress
from ringmap.privacy import mask_value
from ringmap.tabular import (
    Format,
    json_text,
    render,
    render_pieces,
    terminal_safe,
    to_jsonable,
)

__all__ = [
    "Session",
    "bulk_option",
    "emit",
    "emit_pieces",
    "emit_sections",
    "format_option",
    "pass_session",
    "progress_bar",
    "store_options",
    "table_width",
    "terminal_progress",
    "wait_option",
    "waiting",
    "window_options",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Session:
    """What every command needs: which store to open (and opening it once), and the audit log.

    Which store is decided by :meth:`~ringmap.graphs.store.StoreChoice.choose` alone, from the
    options given here and the environment.
    """

    store_path: str | None = None
    neo4j_uri: str | None = None
    neo4j_database: str | None = None
    default_path: Path | None = None
    """The case file when nothing names a store (``ringmap run``: ``OUT/ringmap.db``)."""
    _store: Store | None = field(default=None, repr=False)

    @property
    def choice(self) -> StoreChoice:
        """The store the options and the environment name."""
        return StoreChoice.choose(self.store_path, self.neo4j_uri, default=self.default_path)

    @property
    def uses_neo4j(self) -> bool:
        """Whether commands run against Neo4j."""
        return self.choice.uses_neo4j

    def store(self, *, create: bool = False) -> Store:
        """The store, opened on first use and closed when the CLI exits.

        Only commands that write evidence pass ``create=True``; the others refuse a case file
        that does not exist rather than leaving an empty one behind.
        """
        if self._store is None:
            options: dict[str, Any] = {}
            if self.neo4j_database:
                options["database"] = self.neo4j_database
            self._store = self.choice.open(create=create, **options)
            click.get_current_context().call_on_close(self._store.close)
        return self._store

    def refuse_bulk_here(self, bulk: bool | None) -> None:
        """Refuse ``--bulk`` on an embedded case before anything is written (the store would
        refuse it too, once the case file and audit log exist)."""
        if bulk and not self.uses_neo4j:
            raise ConfigError(f"--bulk loads a new case into an empty Neo4j database; "
                              f"embedded:{self.choice.path} is not one (load without --bulk)")

    def audit(
        self,
        command: str,
        *,
        reason: str | None = None,
        counts: Mapping[str, Any] | None = None,
    ) -> None:
        """Append this invocation to the audit log (secrets and card numbers masked there)."""
        audit.record(self._audit_log(), command, sys.argv[1:], reason=reason,
                     counts=counts, store=self._where())

    def audited(self, command: str, *,
                reason: str | None = None) -> AbstractContextManager[dict[str, Any]]:
        """Audit an action that writes or exports before and after it
        (:func:`ringmap.audit.audited`); the block fills in the counts."""
        return audit.audited(self._audit_log(), command, sys.argv[1:], reason=reason,
                             store=self._where())

    def _audit_log(self) -> Path:
        return audit.audit_path(self.choice.path)

    def _where(self) -> str | None:
        case_file = self.choice.path
        return self._store.describe() if self._store is not None else (
            None if case_file is None else str(case_file))


pass_session = click.make_pass_decorator(Session, ensure=True)


def store_options(func: F) -> F:
    """``--store PATH`` / ``--neo4j URI`` / ``--database NAME``, spelled the same everywhere."""

    def set_store(ctx: click.Context, _p: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(Session).store_path = value

    def set_uri(ctx: click.Context, _p: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(Session).neo4j_uri = value

    def set_db(ctx: click.Context, _p: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(Session).neo4j_database = value

    decorators = [
        # no envvar here: RINGMAP_STORE and NEO4J_URI are read by StoreChoice.choose, so that
        # an explicit option always beats the environment
        click.option("--store", "store_path", metavar="PATH", expose_value=False,
                     callback=set_store,
                     help="Embedded case file [env RINGMAP_STORE; default ./ringmap.db]."),
        click.option("--neo4j", "neo4j_uri", metavar="URI", expose_value=False,
                     callback=set_uri,
                     help="Use the Neo4j server at URI [env NEO4J_URI]; password from "
                          "NEO4J_PASSWORD."),
        click.option("--database", "neo4j_database", metavar="NAME", expose_value=False,
                     callback=set_db, envvar="NEO4J_DATABASE",
                     help="Neo4j database [env NEO4J_DATABASE; default neo4j]."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


wait_option = click.option(
    "--wait", is_flag=True,
    help="If another process is writing to the case, wait for it instead of stopping.")


engine_option = click.option(
    "--engine", type=click.Choice(["gds", "python"]), default=None,
    help="Where the partitions and key players run: gds (inside Neo4j, with its Graph Data "
         "Science library) or python  [default: gds on a Neo4j store that has it, else python]")
bulk_option = click.option(
    "--bulk/--no-bulk", default=None,
    help="Load a new case into an empty Neo4j database (a tools/neo4j-dev server) with Neo4j's "
         "bulk importer, or never [default: bulk for a new case of 16 MiB or more when the "
         "database is empty, batched otherwise].")


def waiting(busy: str) -> None:
    """Say on stderr what a command waits for (the ``on_wait`` of ``Store.writing``)."""
    click.echo(f"waiting: {busy}", err=True)


def window_options(func: F) -> F:
    """``--from`` and ``--to``: a window of days (``from_day``, ``to_day``)."""
    for name, meaning in (("--to", "Last day"), ("--from", "First day")):
        func = click.option(name, name.removeprefix("--") + "_day",
                            type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
                            help=f"{meaning} of the time window (default: the case's).")(func)
    return func


def format_option(default: Format = "table") -> Callable[[F], F]:
    """``--format table|json|csv``."""
    return click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]),
                        default=default, show_default=True, help="Output format.")


def emit(
    rows: Iterable[Mapping[str, Any]],
    fmt: Format,
    columns: Sequence[str] | None = None,
) -> None:
    """Print rows in the chosen format (a table fitted to the terminal, if any)."""
    click.echo(_for_terminal(render(rows, fmt, columns, table_width()), fmt))


def emit_pieces(rows: Iterable[Mapping[str, Any]], fmt: Literal["json", "csv"],
                columns: Sequence[str]) -> None:
    """Print rows as :func:`emit` does, a row at a time as they are made (the same text):
    for output too large to hold, such as every member of every cell."""
    for piece in render_pieces(rows, fmt, columns):
        click.echo(_for_terminal(piece, fmt), nl=False)
    click.echo("")


def _for_terminal(text: str, fmt: Format) -> str:
    """CSV as it may reach a terminal: its controls escaped there (tables and JSON escape
    theirs always); to a file or a pipe the CSV is data and stays as it is."""
    return terminal_safe(text, "\n") if fmt == "csv" and sys.stdout.isatty() else text


def emit_sections(sections: Mapping[str, Sequence[Mapping[str, Any]]], fmt: Format) -> None:
    """Several tables as one document a pipeline can parse whole.

    JSON: one object with a list of rows per section. CSV: one table, with a ``section``
    column first when there are several. Table: each section under its title (a lone section
    as a plain table).
    """
    if fmt == "json":
        click.echo(json_text(mask_value(to_jsonable(sections))))
    elif len(sections) == 1:
        emit(next(iter(sections.values())), fmt)
    elif fmt == "csv":
        emit([{"section": name, **row} for name, rows in sections.items() for row in rows], fmt)
    else:
        width = table_width()
        click.echo("\n\n".join(f"{name}:\n{render(rows, fmt, width=width)}"
                               for name, rows in sections.items()))


def table_width() -> int | None:
    """The terminal's width when stdout is one; ``None`` (cells never wrapped) for files and
    pipes, where whole lines are what ``grep`` and ``cut`` want."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A :data:`ringmap.perf.Progress` that draws a bar on stderr."""
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        shown = 0

        def update(position: int) -> None:
            nonlocal shown
            bar.update(position - shown)
            shown = position

        yield update


def terminal_progress(enabled: bool | None = None) -> Progress | None:
    """:func:`progress_bar` when ``enabled`` (by default: when stderr is a terminal)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return progress_bar if enabled else None

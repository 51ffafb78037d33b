"""Run a named query on any store: bind its parameters, let the store run it (the Cypher on
Neo4j, its SQL twin on the embedded store), and type and pseudonymise the rows the same way for
both.

Parameters are checked against the query's header before anything runs: entities are resolved
from what an analyst types (:func:`ringmap.graphs.resolve.readings`), countries normalised,
runs and cells looked up, a run's infrastructure read from its summary; every value reaches the
store as a bound parameter. Rows come back typed by the header's column kinds, victims on the
victim side shown as ``Type:V-…`` pseudonyms unless ``reveal`` is asked for, and card-like
digit runs in text masked. A person (or account) merged with others (``ringmap merge``) is one:
a parameter naming any of its references asks about all of them, and every reference in the
rows is shown as its group's id (:mod:`ringmap.graphs.sameas`), each row once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ringmap.errors import ConfigError, NotFound, StoreError
from ringmap.graphs.model import AnalysisRun
from ringmap.graphs.normalise import NORMALISERS, Context
from ringmap.graphs.resolve import lookup, readings, resolve
from ringmap.graphs.sameas import SAME_AS, SameAsGroups
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy, mask_card_numbers
from ringmap.queries.catalog import Column, Param, QuerySpec, get_query

__all__ = ["QueryResult", "bind", "parse_assignments", "run_named"]

MAX_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The rows of one named query, typed and shown as the header says."""

    spec: QuerySpec
    params: dict[str, Any]
    rows: list[dict[str, Any]]

    @property
    def columns(self) -> list[str]:
        """The result columns, in order."""
        return self.spec.column_names


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``["k=v", ...]`` as a dict; the value may itself contain ``=``.

    >>> parse_assignments(["device=35-2099", "note=a=b"])
    {'device': '35-2099', 'note': 'a=b'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--param wants NAME=VALUE, got {pair!r}")
        if name.strip() in out:
            raise ConfigError(f"parameter {name.strip()!r} given twice")
        out[name.strip()] = value
    return out


# -- binding ----------------------------------------------------------------------------------
def _node(store: Store, param: Param, text: str) -> str:
    """The id of the node of one of ``param.types`` that ``text`` names."""
    found = readings(text)
    typed = [r for r in found if r.type in param.types]
    node = lookup(store.get, typed) if typed else None
    if node is None:
        node = resolve(store, text)  # raises NotFound naming what was looked for
    if node.type not in param.types:
        raise NotFound(f"parameter {param.name}: {Privacy().public_id(node.id)} is a "
                       f"{node.type}; this query wants {' or '.join(param.types)}")
    return node.id


def _int(param: Param, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(f"parameter {param.name} wants a whole number, got {text!r}") from None
    low = 1 if param.name == "limit" else 0
    if not low <= value <= MAX_LIMIT:
        raise ConfigError(f"parameter {param.name} must be between {low} and {MAX_LIMIT}")
    return value


def _run(store: Store, text: str | None) -> AnalysisRun:
    runs = {r.run_id: r for r in store.analysis_runs("cells")}
    if not runs:
        raise NotFound("no cell-detection run in this case; run `ringmap cells` first")
    if text is None or text.strip() in ("", "latest"):
        return list(runs.values())[-1]
    if text.strip() not in runs:
        shown = ", ".join(list(runs)[-5:])
        raise NotFound(f"no cell-detection run {text.strip()!r} (runs: {shown})")
    return runs[text.strip()]


def _check_cell(store: Store, run_id: str, cell_id: str) -> None:
    cells = [c.cell_id for c in store.load_cells(run_id)]
    if cell_id not in cells:
        shown = ", ".join(cells[:10]) + (", ..." if len(cells) > 10 else "")
        raise NotFound(f"no cell {cell_id!r} in run {run_id} (cells: {shown})")


def bind(store: Store, spec: QuerySpec, raw: Mapping[str, str]) -> dict[str, Any]:
    """Check the analyst's ``raw`` parameters against the header and turn them into values.

    Raises
    ------
    ConfigError
        An unknown, missing or malformed parameter.
    NotFound
        An entity or run the case does not hold (cells are checked by :func:`run_named`
        when no rows come back, so that a large run's cells are not read on every query).
    NormalisationError
        A value that cannot be read as its kind (a country, a phone number, ...).
    """
    given = [p for p in spec.params if not p.derived]
    unknown = sorted(set(raw) - {p.name for p in given})
    if unknown:
        if unknown[0] in {p.name for p in spec.params}:
            raise ConfigError(f"parameter {unknown[0]} of query {spec.name} is read from the "
                              "cell run, not given")
        known = ", ".join(p.name for p in given) or "none"
        raise ConfigError(f"query {spec.name} has no parameter {unknown[0]!r} "
                          f"(parameters: {known})")
    values: dict[str, Any] = {}
    run: AnalysisRun | None = None
    for param in given:
        text = raw.get(param.name, param.default)
        if param.kind == "run":
            run = _run(store, text)
            values[param.name] = run.run_id
        elif text is None:
            raise ConfigError(f"query {spec.name} needs --param {param.name}=VALUE "
                              f"({param.describe()})")
        elif text == "null" and param.default == "null":
            values[param.name] = None
        else:
            values[param.name] = _value(store, param, text)
    for param in spec.params:
        if param.derived and run is not None:  # the catalog pairs it with a run parameter
            values[param.name] = sorted(run.infrastructure)  # same value on every store
    return values


def _value(store: Store, param: Param, text: str) -> Any:
    if param.kind == "node":
        return _node(store, param, text)
    if param.kind == "country":
        return NORMALISERS["country"](text, Context())
    if param.kind == "int":
        return _int(param, text)
    return text.strip()  # a cell: looked up only when no rows come back (see run_named)


# -- running ----------------------------------------------------------------------------------
def _datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    native = value.to_native()  # a Neo4j temporal value
    if not isinstance(native, datetime):
        raise StoreError(f"expected a datetime, got {type(native).__name__}")
    return native


_TYPERS: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "float": lambda v: round(float(v), 6),
    "money": lambda v: round(float(v), 2),
    "datetime": _datetime,
    "str": lambda v: mask_card_numbers(str(v)),
}


def _typed(columns: tuple[Column, ...], raw: tuple[Any, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column, value in zip(columns, raw, strict=True):
        typer = _TYPERS.get(column.kind)
        row[column.name] = value if value is None or typer is None else typer(value)
    return row


def _per_member(spec: QuerySpec, params: dict[str, Any],
                groups: SameAsGroups) -> list[dict[str, Any]]:
    """The bindings to run: one per member of each same-as group an entity parameter names
    (a merged person is asked about under every reference he has), else ``params`` alone."""
    bindings = [params]
    for param in spec.params:
        value = params.get(param.name)
        if param.kind == "node" and isinstance(value, str):
            members = groups.members(value)
            bindings = [{**b, param.name: m} for b in bindings for m in members]
    return bindings


def _as_groups(rows: list[dict[str, Any]], parties: list[str],
               groups: SameAsGroups) -> list[dict[str, Any]]:
    """Rows with every merged reference shown as its group's id, repeated rows once."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for row in rows:
        for column in parties:
            if isinstance(row[column], str):
                row[column] = groups.canonical(row[column])
        key = repr(sorted(row.items()))
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def run_named(
    store: Store,
    name: str,
    raw_params: Mapping[str, str] | None = None,
    *,
    reveal: bool = False,
    timeout: float | None = None,
) -> QueryResult:
    """Run the named query ``name`` on ``store`` with the analyst's parameters.

    Parameters
    ----------
    store
        The case; it runs the query (:meth:`~ringmap.graphs.store.Store.named_rows`).
    name
        A query of :func:`~ringmap.queries.catalog.catalog`.
    raw_params
        Parameter values as typed, by name; defaults fill the rest.
    reveal
        Show victims as they are instead of pseudonyms.
    timeout
        Seconds the Neo4j server may spend on the query.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from ringmap.graphs.embedded import EmbeddedStore
    >>> with EmbeddedStore(pathlib.Path(tempfile.mkdtemp()) / "case.db") as store:
    ...     run_named(store, "cross-border-summary").rows
    []
    """
    spec = get_query(name)
    params = bind(store, spec, raw_params or {})
    groups = SameAsGroups((e.src, e.dst) for e in store.edges([SAME_AS]))
    rows = [_typed(spec.columns, raw) for bound in _per_member(spec, params, groups)
            for raw in store.named_rows(spec, bound, timeout)]
    cells = [p.name for p in spec.params if p.kind == "cell" and params[p.name] is not None]
    if not rows:  # no rows: say so if it is because the cell does not exist
        for cell in cells:
            _check_cell(store, params["run"], params[cell])
    parties = [c.name for c in spec.columns if c.kind in ("party", "node")]
    if groups.groups():
        rows = _as_groups(rows, parties, groups)
    ids = {row[c] for row in rows for c in parties if row[c] is not None}
    privacy = Privacy(victims=set() if reveal else store.victim_side(ids), reveal=reveal)
    for row in rows:
        for column in parties:
            if row[column] is not None:
                row[column] = privacy.public_id(row[column])
    return QueryResult(spec, params, rows)

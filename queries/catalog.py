"""The library of named queries: ``.cypher`` files whose header comments declare them.

Each ``queries/<name>.cypher`` file opens with a header of ``//`` comment lines::

    // @name accounts-on-device
    // @description Accounts used on a device, with when and how often.
    // @param device: node(Device)
    // @param limit: int = 100
    // @column account: party
    // @column first_seen: datetime

followed by the Cypher, which reads its parameters as ``$device``, ``$limit``. Parameter kinds:
``node(Type|Type...)`` (an entity, typed as an analyst would: node id, ``phone:0917...``, a bare
value), ``country`` (ISO code or name), ``run`` (a cell-detection run, ``latest`` by default),
``cell`` (a cell id of that run; the query needs a ``run`` parameter too), ``int``, and
``infrastructure``: the ids the ``run`` set aside as infrastructure (office Wi-Fi, carrier NAT,
raid sites shared by more agents than its threshold), a list read from the run's summary and
never typed by the analyst; ``= null`` makes a parameter optional. Column kinds say how values
are typed and shown: ``str``, ``int``, ``float``, ``money`` (two decimals), ``datetime``,
``node`` (a node id) and ``party`` (a node id shown under a pseudonym when it is on the victim
side).

>>> spec = catalog()["accounts-on-device"]
>>> [p.name for p in spec.params], spec.columns[0].name
(['device', 'limit'], 'account')
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, cast, get_args

from ringmap.errors import ConfigError, NotFound
from ringmap.graphs.schema import SCHEMA

__all__ = ["Column", "Param", "QuerySpec", "catalog", "get_query", "parse_query"]

ParamKind = Literal["node", "country", "run", "cell", "int", "infrastructure"]
ColumnKind = Literal["str", "int", "float", "money", "datetime", "node", "party"]

_PARAM_KINDS: frozenset[str] = frozenset(get_args(ParamKind))
_COLUMN_KINDS: frozenset[str] = frozenset(get_args(ColumnKind))
_HERE = Path(__file__).parent
_TAG = re.compile(r"^//\s*@(?P<tag>\w+)\s*(?P<rest>.*)$")
_PARAM = re.compile(
    r"^(?P<name>[a-z_][a-z0-9_]*)\s*:\s*(?P<kind>[a-z]+)(?:\((?P<types>[A-Za-z|]+)\))?"
    r"(?:\s*=\s*(?P<default>\S+))?$")
_COLUMN = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*)\s*:\s*(?P<kind>[a-z]+)$")
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class Param:
    """A declared parameter: its kind, entity types (``node``) and default.

    No default makes the parameter required (a ``run`` defaults to the latest run); the
    default ``"null"`` makes it optional with no value.
    """

    name: str
    kind: ParamKind
    types: tuple[str, ...] = ()
    default: str | None = None

    @property
    def derived(self) -> bool:
        """Whether the value comes from the case (the run's infrastructure), not the analyst."""
        return self.kind == "infrastructure"

    def describe(self) -> str:
        """``name: kind(Types) = default`` as written in the header."""
        if self.derived:
            return f"{self.name}: {self.kind} (of run)"
        text = f"{self.name}: {self.kind}"
        if self.types:
            text += f"({'|'.join(self.types)})"
        if self.kind == "run" and self.default is None:
            return text + " = latest"
        return text if self.default is None else f"{text} = {self.default}"


@dataclass(frozen=True, slots=True)
class Column:
    """A result column and how its values are typed and shown."""

    name: str
    kind: ColumnKind


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """A named query: header, Cypher text and where it came from."""

    name: str
    description: str
    params: tuple[Param, ...]
    columns: tuple[Column, ...]
    cypher: str
    path: Path

    @property
    def column_names(self) -> list[str]:
        """The result columns, in order."""
        return [c.name for c in self.columns]


def _parse_param(rest: str, problems: list[str]) -> Param | None:
    match = _PARAM.match(rest.strip())
    if match is None:
        problems.append(f"bad @param {rest.strip()!r} (want NAME: KIND[(Types)] [= DEFAULT])")
        return None
    kind = match["kind"]
    if kind not in _PARAM_KINDS:
        problems.append(f"@param {match['name']}: unknown kind {kind!r}")
        return None
    types = tuple(match["types"].split("|")) if match["types"] else ()
    unknown = [t for t in types if t not in SCHEMA.entities]
    if unknown:
        problems.append(f"@param {match['name']}: unknown entity types {unknown}")
    if (kind == "node") != bool(types):
        problems.append(f"@param {match['name']}: entity types go with kind node only")
    return Param(match["name"], cast(ParamKind, kind), types, match["default"])


def _parse_column(rest: str, problems: list[str]) -> Column | None:
    match = _COLUMN.match(rest.strip())
    if match is None or match["kind"] not in _COLUMN_KINDS:
        problems.append(f"bad @column {rest.strip()!r} (want NAME: one of "
                        f"{', '.join(sorted(_COLUMN_KINDS))})")
        return None
    return Column(match["name"], cast(ColumnKind, match["kind"]))


def parse_query(path: Path) -> QuerySpec:
    """Read one ``.cypher`` file and check its header against its body.

    Raises
    ------
    ConfigError
        Listing every problem in the header: missing tags, unknown kinds, parameters used
        but not declared (or declared but not used), a missing ``ORDER BY``.
    """
    problems: list[str] = []
    tags: dict[str, str] = {}
    params: list[Param] = []
    columns: list[Column] = []
    body: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _TAG.match(line.strip())
        if match is None:
            body.append(line)
        elif match["tag"] == "param":
            param = _parse_param(match["rest"], problems)
            params.extend([param] if param else [])
        elif match["tag"] == "column":
            column = _parse_column(match["rest"], problems)
            columns.extend([column] if column else [])
        elif match["tag"] in ("name", "description"):
            tags[match["tag"]] = match["rest"].strip()
        else:
            problems.append(f"unknown tag @{match['tag']}")
    cypher = "\n".join(body).strip()
    name = tags.get("name", "")
    if name != path.stem:
        problems.append(f"@name {name!r} must match the file name {path.stem!r}")
    if not tags.get("description"):
        problems.append("missing @description")
    if not columns:
        problems.append("no @column declared")
    used = set(_DOLLAR.findall(cypher))
    declared = {p.name for p in params}
    if used - declared:
        problems.append(f"parameters used but not declared: {sorted(used - declared)}")
    for kind in ("cell", "infrastructure"):
        if any(p.kind == kind for p in params) and not any(
                p.kind == "run" and p.name == "run" for p in params):
            problems.append(f"a {kind} parameter needs a run parameter named run")
    if declared - used:
        problems.append(f"parameters declared but not used: {sorted(declared - used)}")
    if "ORDER BY" not in cypher.upper():
        problems.append("no ORDER BY: rows must come in the same order on every store")
    if problems:
        raise ConfigError(f"{path.name}: " + "; ".join(problems))
    return QuerySpec(name, tags["description"], tuple(params), tuple(columns), cypher, path)


@cache
def catalog() -> dict[str, QuerySpec]:
    """Every named query shipped in ``queries/``, by name (sorted)."""
    specs = [parse_query(path) for path in sorted(_HERE.glob("*.cypher"))]
    return {spec.name: spec for spec in specs}


def get_query(name: str) -> QuerySpec:
    """The named query ``name``.

    Raises
    ------
    NotFound
        If there is none; the message names the closest queries.
    """
    known = catalog()
    spec = known.get(name.strip().lower())
    if spec is not None:
        return spec
    close = difflib.get_close_matches(name.strip().lower(), known, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known)}"
    raise NotFound(f"unknown query {name!r}; {hint}")

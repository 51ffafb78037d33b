"""CLI commands of ringmap.queries: ``ringmap query`` (named queries, both stores) and
``ringmap cypher`` (read-only Cypher, Neo4j only)."""

from __future__ import annotations

import json
from typing import Any

import click

from ringmap.cli.session import Session, emit, format_option, pass_session, store_options
from ringmap.errors import ConfigError, QueryTimeout
from ringmap.queries.catalog import catalog
from ringmap.queries.engine import parse_assignments, run_named
from ringmap.queries.guard import PlannedReader, WriteRefused, check_plan, check_read_only
from ringmap.tabular import Format

__all__ = ["COMMANDS", "cypher", "query"]

_PARAM_HELP = "A parameter, NAME=VALUE (repeatable)."
_TIMEOUT = click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0,
                        show_default=True, metavar="S",
                        help="Seconds the Neo4j server may spend before it cancels the query.")


def catalog_rows() -> list[dict[str, Any]]:
    """One row per named query: name, parameters, columns, description."""
    return [{"name": spec.name,
             "parameters": ", ".join(p.describe() for p in spec.params),
             "columns": ", ".join(spec.column_names),
             "description": spec.description}
            for spec in catalog().values()]


@click.command()
@click.argument("name", required=False)
@click.option("--list", "list_", is_flag=True, help="List the named queries and their parameters.")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help=_PARAM_HELP)
@click.option("--reveal-victims", is_flag=True,
              help="Show victims and what only they use as they are, not as pseudonyms "
                   "(needs --reason).")
@click.option("--reason", metavar="TEXT", help="Why this consultation: kept in the audit log.")
@_TIMEOUT
@store_options
@format_option()
@pass_session
def query(
    session: Session,
    name: str | None,
    list_: bool,
    params: tuple[str, ...],
    reveal_victims: bool,
    reason: str | None,
    timeout: float,
    fmt: Format,
) -> None:
    """Run the named investigative query NAME, on the embedded store or on Neo4j.

    Entities are given as an analyst types them: a node id, TYPE:VALUE (phone:0917 123 4567,
    card:4111 1111 1111 1111) or a bare value. Victims are shown as pseudonyms unless
    --reveal-victims; cards only as BIN and last four. Both stores return the same rows.

    Example: ringmap query who-used-identifier --param identifier=phone:09175229793
    """
    if list_:
        emit(catalog_rows(), fmt)
        return
    if name is None:
        raise ConfigError("give a query NAME, or --list to see them")
    if reveal_victims and not (reason and reason.strip()):
        raise ConfigError("--reveal-victims needs --reason: it is kept in the audit log")
    result = run_named(session.store(), name, parse_assignments(params),
                       reveal=reveal_victims, timeout=timeout)
    emit(result.rows, fmt, result.columns)
    session.audit("query", reason=reason,
                  counts={"query": result.spec.name, "rows": len(result.rows)})


def _cypher_value(text: str) -> Any:
    """A ``--param`` value for raw Cypher: JSON (numbers, booleans, lists) or else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text
    except RecursionError:
        raise ConfigError("a --param value nests its JSON too deeply") from None


@click.command()
@click.argument("statement")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help=_PARAM_HELP)
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Rows shown at most.")
@_TIMEOUT
@click.option("--reason", metavar="TEXT", help="Why this consultation: kept in the audit log.")
@store_options
@format_option()
@pass_session
def cypher(
    session: Session,
    statement: str,
    params: tuple[str, ...],
    limit: int,
    timeout: float,
    reason: str | None,
    fmt: Format,
) -> None:
    """Run a read-only Cypher STATEMENT on Neo4j (values as $parameters).

    Statements that could write or administer (CREATE, MERGE, DELETE, SET, LOAD CSV, SHOW
    USERS, dbms.* and other procedures outside a read-only allowlist, ...) are refused, read
    as Cypher reads them and again as the server plans them (EXPLAIN); the rest runs once in
    a READ transaction that the server stops after --timeout seconds. Rows are shown as
    stored: nothing is pseudonymised, so prefer `ringmap query` for anything you share.

    Example: ringmap cypher "MATCH (a:Account)-[:LOGGED_IN_ON]->(d:Device {id: $id})
    RETURN a.id" -p id=Device:358542056252801
    """
    if not session.uses_neo4j:
        raise ConfigError("ringmap cypher runs on Neo4j only: give --neo4j URI or set "
                          "NEO4J_URI (named queries run on both: ringmap query --list)")
    try:
        check_read_only(statement)
        values = {k: _cypher_value(v) for k, v in parse_assignments(params).items()}
        store = session.store()
        if not isinstance(store, PlannedReader):
            raise ConfigError(f"the {store.kind} store does not run Cypher")
        rows = store.read_cypher(statement, values, timeout=timeout, limit=limit + 1,
                                 check=check_plan)  # one more: are there more?
    except WriteRefused:
        session.audit("cypher", reason=reason, counts={"refused": 1})
        raise
    except QueryTimeout:
        session.audit("cypher", reason=reason, counts={"timed_out": 1})
        raise
    emit(rows[:limit], fmt)
    if len(rows) > limit:
        click.echo(f"(first {limit} rows; there are more: raise --limit to see them)", err=True)
    session.audit("cypher", reason=reason,
                  counts={"rows": min(len(rows), limit)})


COMMANDS: list[click.Command] = [query, cypher]

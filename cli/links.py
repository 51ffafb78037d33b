"""CLI commands of link analysis: ``path``, ``expand``, ``shared``, ``connect``, ``show`` and
``batch``.

Tables and CSV show one row per relationship (or node); ``--format json`` gives the whole
result, every relationship with its full provenance. Entities are named as
:func:`~ringmap.graphs.resolve.resolve` reads them: ``Phone:+639171234567``,
``phone:0917 123 4567``, ``card:4111...`` or a bare value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import BaseModel

from ringmap.analysis import batch as batch_lib
from ringmap.analysis import entity, links
from ringmap.cli.session import (
    Session,
    emit,
    emit_sections,
    format_option,
    pass_session,
    store_options,
)
from ringmap.fileio import write_atomic
from ringmap.privacy import mask_value, require_reason
from ringmap.tabular import Format, json_text, render

__all__ = ["COMMANDS"]

F = TypeVar("F", bound=Callable[..., Any])
Rows = list[dict[str, Any]]


def _common(func: F) -> F:
    """``--region`` and ``--reason``, shared by every link command."""
    func = click.option("--reason", metavar="TEXT",
                        help="Why you run this, recorded in the audit log.")(func)
    return click.option("--region", default="PH", show_default=True, metavar="CC",
                        help="Region for phone numbers written without a country code.")(func)


def _hub_option(func: F) -> F:
    return click.option("--hub-degree", default=links.DEFAULT_HUB_DEGREE, show_default=True,
                        type=click.IntRange(min=1), metavar="N",
                        help="Identifiers with more distinct neighbours than N are hubs.")(func)


def _reveal_option(func: F) -> F:
    return click.option("--include-victim-details", "reveal", is_flag=True,
                        help="Show victims' identities instead of pseudonyms (needs "
                             "--reason).")(func)


def _audit(session: Session, command: str, reason: str | None, **counts: Any) -> None:
    """Record the command with its counts."""
    session.audit(command, reason=reason, counts=counts)


def _output(
    fmt: Format,
    result: BaseModel,
    sections: Mapping[str, Rows],
    note: str | None = None,
) -> None:
    """JSON: the whole result. Table: each section under its title. CSV: the sections as one
    table with a ``section`` column when there are several."""
    if note:
        click.echo(f"Note: {note}", err=True)
    if fmt == "json":
        click.echo(json_text(mask_value(result.model_dump(mode="json"))))
    else:
        emit_sections(sections, fmt)


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--max-hops", default=6, show_default=True, type=click.IntRange(min=1),
              help="Longest path reported.")
@click.option("--paths", "k", default=3, show_default=True, type=click.IntRange(1, 100),
              help="Most paths reported, shortest first.")
@click.option("--avoid-hubs", is_flag=True,
              help="Do not pass through hubs (shared Wi-Fi, CGNAT, much-contacted victims), "
                   "countries, places, or the cell run's infrastructure.")
@_hub_option
@_common
@store_options
@format_option()
@pass_session
def path(session: Session, a: str, b: str, max_hops: int, k: int, avoid_hubs: bool,
         hub_degree: int, region: str, reason: str | None, fmt: Format) -> None:
    """Shortest evidence paths between A and B, each hop with its provenance.

    Example: ringmap path person:AG-00009 person:AG-00103 --avoid-hubs
    """
    result = links.shortest_paths(session.store(), a, b, max_hops=max_hops,
                                  avoid_hubs=avoid_hubs, k=k, hub_degree=hub_degree,
                                  default_region=region)
    _output(fmt, result, {"paths": result.rows()}, result.note)
    _audit(session, "path", reason, paths=len(result.paths),
           excluded_hubs=len(result.excluded_hubs))


@click.command()
@click.argument("key")
@click.option("--hops", default=1, show_default=True, type=click.IntRange(min=1),
              help="How far to reach.")
@click.option("--limit", default=500, show_default=True, type=click.IntRange(min=1),
              help="Most nodes reported; nearer nodes are kept.")
@_common
@store_options
@format_option()
@pass_session
def expand(session: Session, key: str, hops: int, limit: int, region: str,
           reason: str | None, fmt: Format) -> None:
    """The neighbourhood of KEY: nodes within --hops and the relationships among them.

    Example: ringmap expand Account:snapchat/ethan.lim.95 --hops 2
    """
    result = links.expand(session.store(), key, hops=hops, limit=limit, default_region=region)
    _output(fmt, result, {"nodes": result.node_rows(), "relationships": result.edge_rows()},
            result.note)
    _audit(session, "expand", reason, nodes=len(result.nodes), relationships=len(result.edges),
           capped=result.capped)


@click.command()
@click.argument("a")
@click.argument("b")
@_common
@store_options
@format_option()
@pass_session
def shared(session: Session, a: str, b: str, region: str, reason: str | None,
           fmt: Format) -> None:
    """What A and B share: identifiers linked to both, directly or through an account or
    person, with the evidence on each side.

    Example: ringmap shared person:AG-00001 person:AG-00002
    """
    result = links.shared(session.store(), a, b, default_region=region)
    note = None if result.shared else "nothing shared within two hops"
    _output(fmt, result, {"shared": result.rows()}, note)
    _audit(session, "shared", reason, shared=len(result.shared))


@click.command()
@click.argument("keys", nargs=-1, required=True)
@_common
@store_options
@format_option()
@pass_session
def connect(session: Session, keys: tuple[str, ...], region: str, reason: str | None,
            fmt: Format) -> None:
    """The smallest network connecting KEYS (a Steiner tree that routes around hubs).

    Example: ringmap connect person:AG-00009 person:AG-00103 "card:4242 4248 3532 6259"
    """
    result = links.connect(session.store(), keys, default_region=region)
    note = ("not connectable to the others: " + ", ".join(result.unconnectable)
            if result.unconnectable else None)
    _output(fmt, result, {"nodes": result.node_rows(), "relationships": result.link_rows()},
            note)
    _audit(session, "connect", reason, terminals=len(result.terminals),
           nodes=len(result.nodes), unconnectable=len(result.unconnectable))


@click.command()
@click.argument("key")
@_reveal_option
@_common
@store_options
@format_option()
@pass_session
def show(session: Session, key: str, reveal: bool, region: str, reason: str | None,
         fmt: Format) -> None:
    """One entity: its type, id and every property, its neighbours counted by relationship,
    every source's value of each property (the value shown is the best-graded one), and its
    sightings (file, row, exhibit/report reference, ingest run, grading).

    A victim, and what only victims use, is shown under a pseudonym with only
    non-identifying properties; card numbers only masked.

    Example: ringmap show person:AG-00009
    """
    require_reason(reveal, reason)
    result = entity.entity_report(session.store(), key, reveal=reveal, default_region=region)
    _output(fmt, result, {"entity": result.field_rows(), "neighbours": result.neighbour_rows(),
                          "values": result.value_rows(), "sources": result.source_rows()})
    _audit(session, "show", reason, properties=len(result.properties),
           neighbours=sum(n.count for n in result.neighbours), sources=len(result.sources),
           revealed=reveal)


@click.command()
@click.argument("watchlist", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the results to this file instead of the terminal.")
@click.option("--max-hops", default=6, show_default=True, type=click.IntRange(min=1),
              help="Farthest suspect looked for.")
@click.option("--avoid-hubs", is_flag=True, help="Do not reach suspects through hubs.")
@_reveal_option
@_hub_option
@_common
@store_options
@format_option("csv")
@pass_session
def batch(session: Session, watchlist: Path, out: Path | None, max_hops: int,
          avoid_hubs: bool, reveal: bool, hub_degree: int, region: str, reason: str | None,
          fmt: Format) -> None:
    """Check a watchlist CSV (identifier[,type][,note]) against the case: per row whether
    it is known, its cell, the nearest suspect and the evidence path to it. Victims are
    shown under pseudonyms, card numbers masked.

    Example: ringmap batch watchlist.csv --out hits.csv
    """
    require_reason(reveal, reason)
    rows = batch_lib.read_watchlist(watchlist)

    def run() -> list[dict[str, Any]]:
        return batch_lib.batch(session.store(), rows, max_hops=max_hops, avoid_hubs=avoid_hubs,
                               hub_degree=hub_degree, default_region=region,
                               reveal_victims=reveal)

    if out is None:
        results = run()
        emit(results, fmt, batch_lib.COLUMNS)
        _audit(session, "batch", reason, **_batch_counts(results))
        return
    with session.audited("batch", reason=reason) as counts:  # a file out is an export
        results = run()
        write_atomic(out, render(results, fmt, batch_lib.COLUMNS) + "\n")
        counts.update(_batch_counts(results))
    click.echo(f"{len(results)} rows written to {out}", err=True)


def _batch_counts(results: list[dict[str, Any]]) -> dict[str, int]:
    """What the audit log keeps of a batch: how many rows were known, linked, in error."""
    statuses = [str(r["status"]) for r in results]
    return {"rows": len(results), "known": sum(r["known"] == "yes" for r in results),
            "linked": statuses.count("linked"),
            "errors": sum(s.startswith("error") for s in statuses)}


COMMANDS: list[click.Command] = [path, expand, shared, connect, show, batch]

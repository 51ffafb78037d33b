"""CLI commands for one person across sources: ``ringmap resolve``, ``merge`` and ``unmerge``."""

from __future__ import annotations

import click

from ringmap.analysis.persons import COLUMNS, ResolveSettings, resolve
from ringmap.audit import current_user
from ringmap.cli.session import Session, emit, format_option, pass_session, store_options
from ringmap.graphs.resolve import resolve as find_node
from ringmap.graphs.sameas import SameAsGroups, merge, unmerge
from ringmap.privacy import Privacy, require_reason
from ringmap.tabular import Format

__all__ = ["COMMANDS"]


@click.command("resolve")
@store_options
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
              default=ResolveSettings().threshold, show_default=True,
              help="Score a pair needs to be proposed.")
@click.option("--accounts/--no-accounts", default=True, show_default=True,
              help="Also propose accounts on different platforms that share identifiers.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Show only the best N candidates.")
@click.option("--include-victim-details", "reveal", is_flag=True,
              help="Show victims as they are (needs --reason).")
@click.option("--reason", help="Why victims are shown (recorded in the audit log).")
@format_option()
@pass_session
def resolve_command(session: Session, threshold: float, accounts: bool, limit: int | None,
                    reveal: bool, reason: str | None, fmt: Format) -> None:
    """Propose pairs of persons (and of accounts across platforms) likely to be one, best
    first, each with its score and reasons; nothing is merged.

    Names are compared in any order and case, with particles (dela, de los, van der),
    initials and accents allowed for; birth year, gender and the ID documents, accounts,
    phones, devices and cards both hold weigh for or against. References already merged are
    one and never proposed again. Review a pair, then record the decision with ringmap merge.

    Example: ringmap resolve --threshold 0.5 --format csv
    """
    require_reason(reveal, reason)
    store = session.store()
    graph = store.evidence()
    found = resolve(graph, ResolveSettings(threshold=threshold, accounts=accounts))
    shown = found[:limit] if limit else found
    privacy = Privacy.for_graph(graph, reveal=reveal)
    emit([c.row(privacy, graph) for c in shown], fmt, COLUMNS)
    session.audit("resolve", reason=reason, counts={"candidates": len(found),
                                                    "shown": len(shown), "revealed": reveal})


def _groups_line(session: Session, node: str) -> str:
    groups = SameAsGroups((e.src, e.dst) for e in session.store().edges(["SAME_AS"]))
    return ", ".join(groups.members(node))


@click.command("merge")
@store_options
@click.argument("a")
@click.argument("b")
@click.option("--reason", required=True, help="Why they are one (recorded with the link).")
@click.option("--score", type=float, help="The resolve score the decision was based on.")
@pass_session
def merge_command(session: Session, a: str, b: str, reason: str, score: float | None) -> None:
    """Record the reviewed decision that A and B are one person (or one account).

    A same-as link joins them, with the reason, who decided and when; neither is changed or
    deleted. Cells, link analysis, maps and packages then treat the group as one person
    (its node the smallest id, listing the others), every original reference kept.
    ringmap unmerge A B removes the link exactly.

    Example: ringmap merge person:AG-00021 person:AG-00067 --reason "same national ID"
    """
    with session.audited("merge", reason=reason) as counts:
        store = session.store()
        first, second = find_node(store, a).id, find_node(store, b).id
        link = merge(store, first, second, reason, decided_by=current_user(), score=score)
        counts.update({"link": link.id})
    click.echo(f"merged {second} into the group of {first}: {_groups_line(session, first)}")


@click.command("unmerge")
@store_options
@click.argument("a")
@click.argument("b")
@click.option("--reason", required=True, help="Why the decision is undone.")
@pass_session
def unmerge_command(session: Session, a: str, b: str, reason: str) -> None:
    """Undo ringmap merge A B: remove the same-as link between them, exactly.

    Example: ringmap unmerge person:AG-00021 person:AG-00067 --reason "twins"
    """
    with session.audited("unmerge", reason=reason) as counts:
        store = session.store()
        link = unmerge(store, find_node(store, a).id, find_node(store, b).id)
        counts.update({"link": link.id})
    click.echo(f"unmerged {link.src} and {link.dst}")


COMMANDS: list[click.Command] = [resolve_command, merge_command, unmerge_command]

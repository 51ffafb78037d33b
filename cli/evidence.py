"""CLI commands of evidence integrity: ``conflicts`` (where sources disagree) and ``retract``
(take one load out of the case)."""

from __future__ import annotations

import click

from ringmap.cli.session import (
    Session,
    emit,
    format_option,
    pass_session,
    store_options,
    wait_option,
    waiting,
)
from ringmap.graphs.stats import conflict_rows
from ringmap.ingest.retract import loads_of
from ringmap.ingest.retract import retract as retract_loads
from ringmap.privacy import require_reason
from ringmap.tabular import Format

__all__ = ["COMMANDS"]

CONFLICT_COLUMNS = ["item", "type", "property", "value", "shown", "file", "grading", "run",
                    "ingested_at"]


@click.command()
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only entities or relationships of this type (repeatable).")
@click.option("--property", "properties", multiple=True, metavar="NAME",
              help="Only this property (repeatable).")
@click.option("--include-victim-details", "reveal", is_flag=True,
              help="Show victims' identities instead of pseudonyms (needs --reason).")
@click.option("--reason", metavar="TEXT", help="Why you run this, recorded in the audit log.")
@store_options
@format_option()
@pass_session
def conflicts(session: Session, types: tuple[str, ...], properties: tuple[str, ...],
              reveal: bool, reason: str | None, fmt: Format) -> None:
    """Properties whose sources disagree: one row per source of each, with its value, file,
    grading and run; ``shown`` marks the value the case shows (the best-graded source's, the
    newest on a tie). Victims appear under pseudonyms with only non-identifying properties.

    Example: ringmap conflicts --type Person --property role
    """
    require_reason(reveal, reason)
    rows = conflict_rows(session.store(), types or None, properties or None, reveal=reveal)
    emit(rows, fmt, CONFLICT_COLUMNS)
    session.audit("conflicts", reason=reason, counts={
        "conflicts": len({(r["item"], r["property"]) for r in rows}), "revealed": reveal})


@click.command()
@click.argument("target", metavar="FILE|INGEST_RUN")
@click.option("--reason", required=True, metavar="TEXT",
              help="Why the load is retracted, kept in the ledger and the audit log.")
@wait_option
@store_options
@format_option()
@pass_session
def retract(session: Session, target: str, reason: str, wait: bool, fmt: Format) -> None:
    """Take out of the case exactly what one evidence FILE (every load of it) or every file
    of one INGEST_RUN contributed: its provenance, the property values it stated (the values
    shown are worked out again from the other sources) and the entities and relationships no
    other load supports. All of it or nothing, in one transaction; audited before and after.
    The ledger keeps the load, marked retracted with the reason; the file can then be
    ingested again.

    Example: ringmap retract tips/anonymous-tip.csv --reason "source withdrawn"
    """
    store = session.store()
    loads = loads_of(store, target)
    with session.audited("retract", reason=reason) as audited, \
            store.writing("retract", wait=wait, on_wait=waiting):
        done = retract_loads(store, loads, reason)
        audited.update(done.model_dump(exclude={"files"}), loads=len(done.files))
    emit([{"file": f, "mapping": load.mapping, "run": load.run_id}
          for f, load in zip(done.files, loads, strict=True)], fmt)
    click.echo(f"retracted {len(done.files)} load(s): {done.nodes_removed} node(s) and "
               f"{done.relationships_removed} relationship(s) removed, "
               f"{done.nodes_restated} node(s) and {done.relationships_restated} "
               "relationship(s) shown from the other sources", err=True)


COMMANDS: list[click.Command] = [conflicts, retract]

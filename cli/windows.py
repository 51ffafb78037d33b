"""Cells over time (``ringmap cells --window``) and an entity's activity (``ringmap timeline``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import click

from ringmap.analysis.activity import ACTIVITY_COLUMNS, entity_activity
from ringmap.analysis.cells import CellSettings
from ringmap.analysis.windows import (
    Tie,
    WindowedCells,
    cells_over_time,
    parse_window,
    span_of,
    windows_between,
)
from ringmap.cli.session import (
    Session,
    emit,
    emit_sections,
    format_option,
    pass_session,
    store_options,
)
from ringmap.errors import ConfigError, NotFound
from ringmap.privacy import Privacy, require_reason
from ringmap.tabular import Format

__all__ = ["COMMANDS", "windowed_cells"]


def _tie(tie: Tie, privacy: Privacy) -> str:
    when = ("undated" if tie.first is None else tie.first.isoformat()
            + (f" to {tie.last.isoformat()}" if tie.last and tie.last != tie.first else ""))
    return (f"{tie.relationship} {privacy.public_id(tie.source)} -> "
            f"{privacy.public_id(tie.target)} ({when})")


def _sections(result: WindowedCells, privacy: Privacy) -> dict[str, list[dict[str, Any]]]:
    windows = [{"window": w.index + 1, "from": w.start.isoformat(), "to": w.end.isoformat(),
                "active agents": result.active.get(w.index, 0),
                "cells": len(result.of_window(w))} for w in result.windows]
    cells = [{"window": c.window.index + 1, "cell": c.cell_id, "line": c.line,
              "event": c.event, "agents": len(c.agents), "members": len(c.members),
              "from": ", ".join(c.previous), "to": ", ".join(c.following),
              "ends": c.ending} for c in result.cells]
    links = [{"before": k.before, "after": k.after, "shared": k.shared,
              "overlap": k.overlap, "jaccard": k.jaccard} for k in result.links]
    moves = [{"agent": privacy.public_id(m.agent), "from cell": m.from_cell, "to cell": m.to_cell,
              "last seen there": str(m.from_window), "first seen here": str(m.to_window),
              "before": "; ".join(_tie(t, privacy) for t in m.before),
              "after": "; ".join(_tie(t, privacy) for t in m.after)}
             for m in result.moves]
    return {"windows": windows, "cells": cells, "lineage": links, "moves": moves}


def windowed_cells(session: Session, settings: CellSettings, window: str | None,
                   from_day: datetime | None, to_day: datetime | None, fmt: Format) -> None:
    """``ringmap cells --window/--from/--to``: cells per window, their lineage and the moves
    (nothing is saved as a cell run)."""
    size = parse_window(window) if window is not None else None
    with session.audited("cells over time") as counts:
        evidence = session.store().evidence()
        span = span_of(evidence)
        if span is None:
            raise NotFound("no dated evidence (contacts, logins, payments, reports) in this "
                           "case: nothing to put in time windows")
        first = from_day.date() if from_day else span[0]
        last = to_day.date() if to_day else span[1]
        if last < first:
            raise ConfigError(f"--to {last} is before --from {first}")
        windows = windows_between(first, last, size or (last - first + timedelta(days=1)))
        result = cells_over_time(evidence, windows, settings)
        counts.update({"windows": len(windows), "cells": len(result.cells),
                       "moves": len(result.moves)})
    # a tie may reach a victim (one contacted by both cells): pseudonymised as on the maps
    emit_sections(_sections(result, Privacy.for_graph(evidence)), fmt)
    click.echo(f"{len(windows)} windows from {first} to {last}: {len(result.cells)} cells, "
               f"{len(result.moves)} moves", err=True)


@click.command("timeline")
@store_options
@click.argument("key")
@click.option("--include-victim-details", "reveal", is_flag=True,
              help="Show victims' identities instead of pseudonyms (needs --reason).")
@click.option("--reason", metavar="TEXT", help="Why you run this, recorded in the audit log.")
@click.option("--region", default="PH", show_default=True, metavar="CC",
              help="Region for phone numbers written without a country code.")
@format_option()
@pass_session
def timeline(session: Session, key: str, reveal: bool, reason: str | None, region: str,
             fmt: Format) -> None:
    """An entity's activity over time: every dated contact, login, SIM sighting, payment,
    report and arrest of the entity (for a person, of everything he uses or holds too),
    oldest first.

    Example: ringmap timeline person:AG-00009 --format csv
    """
    require_reason(reveal, reason)
    shown, rows = entity_activity(session.store(), key, reveal=reveal, default_region=region)
    session.audit("timeline", reason=reason, counts={"events": len(rows), "revealed": reveal})
    emit([r.row() for r in rows], fmt, ACTIVITY_COLUMNS)
    days = [r.when for r in rows]
    span = f" from {min(days)} to {max(days)}" if days else ""
    click.echo(f"{shown}: {len(rows)} dated events{span}", err=True)


COMMANDS: list[click.Command] = [timeline]

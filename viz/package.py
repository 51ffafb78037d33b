"""Raid packages: per cell a folder with its map, rosters, summary and a SHA-256 manifest.

A package is what investigators take to a raid and what partner agencies receive::

    cell-C01/
      map.html          the cell map, self-contained and offline
      persons.csv       agents of the cell, the victims it reached (pseudonymised) and
                        suspects in no cell arrested at its raid sites
      accounts.csv      accounts the agents run or use
      phones.csv        phone numbers and SIM cards
      devices.csv       phones, laptops, other devices
      cards.csv         the freeze list: every card (BIN + last four) and wallet or bank
                        account the cell owns (victims paid into it, or its people hold
                        it), with the payments into each and their total in USD; then cards
                        its people hold that another cell owns
      exhibits.csv      seized items with their raid site
      summary.md        the cell at a glance, for people
      summary.json      the same, for programs
      manifest.json     SHA-256 and size of every file above

CSV cells that a spreadsheet would run as a formula are neutralised (:func:`tabular.write_csv`).
A package is written into a temporary folder beside its target and renamed into place, so a
failure leaves nothing half-written; :func:`verify_package` recomputes the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from ringmap import __version__
from ringmap.analysis.fx import FxTable
from ringmap.analysis.report import money_received
from ringmap.analysis.victims import victim_country
from ringmap.errors import ExportError, NotFound
from ringmap.fileio import remove_stale_temporaries, temporary_suffix
from ringmap.graphs.model import CellRecord, utcnow
from ringmap.graphs.schema import SCHEMA
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy, is_victim, mask_value, require_reason
from ringmap.tabular import write_csv
from ringmap.viz.maps import cell_map
from ringmap.viz.reach import CellReach, figures, linked, reach_cells, select_cells
from ringmap.viz.render import render_map

__all__ = ["MANIFEST", "PACKAGE_FORMAT", "PackageResult", "export_cell", "export_cells",
           "package_name", "verify_package"]

MANIFEST = "manifest.json"
PACKAGE_FORMAT = "ringmap-raid-package/1"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class PackageResult:
    """A written package: where, which cell, and how many rows each roster holds."""

    path: Path
    cell_id: str
    rows: dict[str, int]


def package_name(cell_id: str) -> str:
    """A folder name for a cell that is safe on every file system.

    >>> package_name("C01"), package_name("../x y")
    ('cell-C01', 'cell-.._x_y')
    """
    return "cell-" + re.sub(r"[^A-Za-z0-9._-]", "_", cell_id)[:80]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Rosters:
    """Roster rows of one cell, with the privacy policy applied to every value."""

    def __init__(self, graph: nx.MultiDiGraph, found: CellReach, cell: CellRecord,
                 privacy: Privacy, arrested: list[str]) -> None:
        self.graph = graph
        self.found = found
        self.privacy = privacy
        self.arrested = arrested
        self.confidence = {m.node_id: m.confidence for m in cell.members}
        self.fx = FxTable.load()

    def _of(self, *types: str) -> list[str]:
        return sorted(n for n in self.found.footprint
                      if self.graph.nodes[n].get("type") in types)

    def _props(self, node: str) -> dict[str, Any]:
        return self.privacy.properties(node, self.graph.nodes[node])

    def _labels(self, node: str, rels: Iterable[str], direction: str | None = None) -> str:
        found = sorted({self.privacy.label(o, self.graph.nodes[o])
                        for _, d, o in linked(self.graph, node, rels)
                        if direction is None or d == direction})
        return "; ".join(found)

    def _base(self, node: str) -> dict[str, Any]:
        return {"id": self.privacy.public_id(node), "in_cell": node in self.confidence,
                "confidence": self.confidence.get(node), **self._props(node)}

    def persons(self) -> list[dict[str, Any]]:
        rows = []
        for node in [*self._of("Person"), *sorted(self.found.victims), *self.arrested]:
            row = self._base(node)
            row["raid_sites"] = self._labels(node, ("WORKS_AT", "ARRESTED_AT"))
            if is_victim(self.graph.nodes[node]):
                row["country"] = victim_country(self.graph, node)
                row["paid"] = "; ".join(
                    f"{a:,.2f} {c}" for c, a in self.found.money(self.graph, [node]).items())
            rows.append(row)
        return rows

    def accounts(self) -> list[dict[str, Any]]:
        return [{**self._base(n), "used_by": self._labels(n, ("USES",), "in")}
                for n in self._of("Account")]

    def phones(self) -> list[dict[str, Any]]:
        return [{**self._base(n), "type": self.graph.nodes[n]["type"],
                 "used_by": self._labels(n, ("USES", "REGISTERED_TO"), "in"),
                 "linked": self._labels(n, ("SIM_IN", "HAS_NUMBER"))}
                for n in self._of("Phone", "SimCard")]

    def devices(self) -> list[dict[str, Any]]:
        return [{**self._base(n), "used_by": self._labels(n, ("USES", "LOGGED_IN_ON"), "in"),
                 "sims": self._labels(n, ("SIM_IN",), "in")}
                for n in self._of("Device")]

    def cards(self) -> list[dict[str, Any]]:
        """Cards and wallets the cell owns, most money first (their payments are the cell
        report's money), then those its people hold that count for another cell."""
        rows = []
        held = set(self._of("PaymentCard", "FinancialAccount"))
        for node in held | self.found.cards:
            owned = node in self.found.cards
            money = money_received(self.graph, [p for p in self.found.payments
                                                if p.card == node], self.fx)
            rows.append({**self._base(node), "type": self.graph.nodes[node]["type"],
                         "held_by": self._labels(node, ("HOLDS",), "in"),
                         "owned_by_cell": owned,
                         "payments_received": money.payments,
                         "received": "; ".join(f"{a:,.2f} {c}"
                                               for c, a in money.by_currency.items()),
                         "received_usd": money.usd})
        rows.sort(key=lambda r: (not r["owned_by_cell"], -r["received_usd"], r["id"]))
        return rows

    def exhibits(self) -> list[dict[str, Any]]:
        rows = []
        for node in sorted(self.found.exhibits):
            sites = [o for _, d, o in linked(self.graph, node, ("SEIZED_AT",)) if d == "out"]
            coords = "; ".join(f"{self.graph.nodes[s].get('lat')}, {self.graph.nodes[s].get('lon')}"
                               for s in sites if self.graph.nodes[s].get("lat") is not None)
            rows.append({**self._base(node),
                         "item": self._labels(node, ("EXHIBIT_OF",), "out"),
                         "seized_from": self._labels(node, ("SEIZED_FROM",), "out"),
                         "raid_site": self._labels(node, ("SEIZED_AT",), "out"),
                         "raid_site_coordinates": coords})
        return rows


@dataclass(frozen=True, slots=True)
class _Roster:
    build: Callable[[_Rosters], list[dict[str, Any]]]
    types: tuple[str, ...]
    extra: tuple[str, ...]

    def columns(self) -> list[str]:
        """Fixed columns: id, the schema's properties of the roster's types, then the extras."""
        props = dict.fromkeys(p for t in self.types for p in SCHEMA.entity(t).properties)
        return ["id", *(("type",) if len(self.types) > 1 else ()), *props,
                "in_cell", "confidence", *self.extra]


_ROSTERS: dict[str, _Roster] = {
    "persons.csv": _Roster(_Rosters.persons, ("Person",),
                           ("raid_sites", "country", "paid", "pseudonym")),
    "accounts.csv": _Roster(_Rosters.accounts, ("Account",), ("used_by",)),
    "phones.csv": _Roster(_Rosters.phones, ("Phone", "SimCard"), ("used_by", "linked")),
    "devices.csv": _Roster(_Rosters.devices, ("Device",), ("used_by", "sims")),
    "cards.csv": _Roster(_Rosters.cards, ("PaymentCard", "FinancialAccount"),
                         ("held_by", "owned_by_cell", "payments_received", "received",
                          "received_usd")),
    "exhibits.csv": _Roster(_Rosters.exhibits, ("Exhibit",),
                            ("item", "seized_from", "raid_site", "raid_site_coordinates")),
}


def _arrested_outside(graph: nx.MultiDiGraph, found: CellReach, cell: CellRecord) -> list[str]:
    """Agents in no cell, tied to this one (its report says), arrested at one of its sites."""
    outsiders = cell.summary.unassigned if cell.summary else []
    return [o.node for o in outsiders if o.node in graph and any(
        site in found.sites for _, _, site in linked(graph, o.node, ("ARRESTED_AT",)))]


def _summary(graph: nx.MultiDiGraph, found: CellReach, rosters: _Rosters, cell: CellRecord,
             run_id: str, rows: Mapping[str, int], reason: str | None) -> dict[str, Any]:
    privacy = rosters.privacy
    counted = figures(graph, found, cell)
    types: dict[str, int] = {}
    for node in found.footprint:
        kind = str(graph.nodes[node].get("type"))
        types[kind] = types.get(kind, 0) + 1
    sites = [{"site": privacy.label(s, graph.nodes[s]), "lat": graph.nodes[s].get("lat"),
              "lon": graph.nodes[s].get("lon")} for s in sorted(found.sites)]
    summary: dict[str, Any] = mask_value({  # every text: the reason, the analysis, ...
        "format": PACKAGE_FORMAT,
        "cell_id": cell.cell_id,
        "cell_run": run_id,
        "created": utcnow().isoformat(),
        "ringmap_version": __version__,
        "victims_pseudonymised": not privacy.reveal,
        "victim_details_reason": reason,
        "members": len(found.members),
        "entities": dict(sorted(types.items())),
        "victims": counted.victims,
        "victims_by_country": counted.by_country,
        "money_received": counted.money.by_currency,
        "figures_from": counted.source,
        "victims_listed": len(found.victims),
        "arrested_in_no_cell": len(rosters.arrested),
        "raid_sites": sites,
        "exhibits": len(found.exhibits),
        "rows": dict(rows),
        "analysis": cell.summary.model_dump(mode="json") if cell.summary else {},
    })
    return summary


def _summary_md(summary: Mapping[str, Any]) -> str:
    def line(text: str) -> str:  # evidence text must not become Markdown structure
        return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", " ".join(text.split()))

    money = "; ".join(f"{a:,.2f} {c}" for c, a in summary["money_received"].items()) or "none"
    out = [f"# Raid package: cell {line(summary['cell_id'])}", "",
           f"- Cell run: {line(summary['cell_run'])}",
           f"- Created: {summary['created']} (ringmap {summary['ringmap_version']})",
           f"- Members: {summary['members']}",
           f"- Victims reached: {summary['victims']} ({summary['victims_listed']} with a direct "
           "evidence link are listed in persons.csv)",
           f"- Money received: {money}",
           f"- Suspects in no cell arrested at its raid sites: "
           f"{summary['arrested_in_no_cell']} (listed in persons.csv)",
           f"- Figures from: the {summary['figures_from']}",
           f"- Exhibits: {summary['exhibits']}",
           "- Victims: " + ("pseudonymised" if summary["victims_pseudonymised"] else
                            "shown in full, reason: " + line(summary["victim_details_reason"]
                                                             or "")),
           "", "## Victims by country", ""]
    out += [f"- {line(c)}: {n}" for c, n in summary["victims_by_country"].items()] or ["- none"]
    out += ["", "## Raid sites", ""]
    out += [f"- {line(str(s['site']))} ({s['lat']}, {s['lon']})" for s in summary["raid_sites"]]
    if not summary["raid_sites"]:
        out.append("- none known")
    out += ["", "## Entities", ""]
    out += [f"- {line(k)}: {n}" for k, n in summary["entities"].items()]
    out += ["", "## Files", ""]
    out += [f"- {name}: {n} rows" for name, n in summary["rows"].items()]
    return "\n".join(out) + "\n"


def _write_package(target: Path, files: Callable[[Path], None]) -> None:
    """Write a package into a temporary folder beside ``target``, then rename it into place."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError(f"{target} already exists; remove it or choose another --out")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target.parent)  # a killed export's staging folder
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=temporary_suffix(),
                                        dir=target.parent))
    except OSError as exc:
        raise ExportError(f"cannot write under {target.parent}: {exc.strerror}") from None
    try:
        files(staging)
        manifest = {"format": PACKAGE_FORMAT, "files": {
            p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
            for p in sorted(staging.iterdir())}}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        for path in staging.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(staging, target)
    except OSError as exc:
        raise ExportError(f"cannot write the package {target}: {exc.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already once the rename happened


def _export(store: Store, graph: nx.MultiDiGraph, run_id: str, cell: CellRecord,
            found: CellReach, target: Path, reveal: bool, reason: str | None) -> PackageResult:
    privacy = Privacy.for_graph(graph, reveal=reveal)
    rosters = _Rosters(graph, found, cell, privacy, _arrested_outside(graph, found, cell))
    rows: dict[str, int] = {}

    def files(folder: Path) -> None:
        html = render_map(cell_map(store, [cell.cell_id], reveal=reveal, graph=graph))
        (folder / "map.html").write_text(html, encoding="utf-8")
        for name, roster in _ROSTERS.items():
            rows[name] = write_csv(folder / name, roster.build(rosters), roster.columns())
        summary = _summary(graph, found, rosters, cell, run_id, rows, reason)
        (folder / "summary.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n",
            encoding="utf-8")
        (folder / "summary.md").write_text(_summary_md(summary), encoding="utf-8")

    _write_package(target, files)
    return PackageResult(target, cell.cell_id, rows)


def export_cell(store: Store, cell_id: str, out: Path, *, reveal: bool = False,
                reason: str | None = None, graph: nx.MultiDiGraph | None = None
                ) -> PackageResult:
    """Write the raid package of one cell of the latest cell run into the folder ``out``.

    ``reveal`` (``--include-victim-details``) shows victims' identities; it needs a ``reason``.
    ``graph`` is the evidence graph if the caller already projected it.
    """
    require_reason(reveal, reason)
    run_id, records = select_cells(store, [cell_id])
    _, run = select_cells(store, None)  # money goes to one cell among all of the run's
    graph = store.project() if graph is None else graph
    found = reach_cells(graph, records, run)[0]
    return _export(store, graph, run_id, records[0], found, Path(out), reveal, reason)


def export_cells(store: Store, out: Path, *, reveal: bool = False,
                 reason: str | None = None, graph: nx.MultiDiGraph | None = None
                 ) -> list[PackageResult]:
    """Write one package per cell of the latest run into ``out/cell-<id>/`` (``graph`` as
    for :func:`export_cell`)."""
    require_reason(reveal, reason)
    out = Path(out)
    remove_stale_temporaries(out)  # a killed export's staging folders, even if this one stops
    run_id, records = select_cells(store, None)
    targets = [out / package_name(c.cell_id) for c in records]
    taken = [str(t) for t in targets if t.exists()]
    if taken:
        raise ExportError(f"{len(taken)} package folder(s) already exist, e.g. {taken[0]}; "
                          "remove them or choose another --out")
    graph = store.project() if graph is None else graph
    return [_export(store, graph, run_id, cell, found, target, reveal, reason)
            for cell, found, target in zip(records, reach_cells(graph, records), targets,
                                           strict=True)]


def verify_package(folder: Path) -> list[str]:
    """Every way the package in ``folder`` differs from its manifest (empty when intact).

    Raises
    ------
    NotFound
        If ``folder`` is not a folder.
    ExportError
        If the manifest is missing or unreadable.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFound(f"{folder} is not a folder")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed: dict[str, Any] = manifest["files"]
        expected = {str(name): str(entry["sha256"]) for name, entry in listed.items()}
    except FileNotFoundError:
        raise ExportError(f"{folder} has no {MANIFEST}: not a ringmap package") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ExportError(f"{folder / MANIFEST} is not a readable ringmap manifest") from None
    problems = [f"invalid: {name!r} in the manifest is not a plain file name"
                for name in sorted(expected) if name in ("", ".", "..", MANIFEST)
                or "/" in name or "\\" in name]
    present = {p.name for p in folder.iterdir()} - {MANIFEST}
    for name, digest in sorted(expected.items()):
        path = folder / name
        if name not in present or not (path.is_file() or path.is_symlink()):
            problems.append(f"missing: {_shown(name)}")
        elif path.is_symlink():  # a package holds plain files only; never follow a link
            problems.append(f"changed: {_shown(name)} is a link, not a file")
        elif _sha256(path) != digest:
            problems.append(f"changed: {_shown(name)} (SHA-256 differs from the manifest)")
    problems += [f"extra: {_shown(name)} (not in the manifest)"
                 for name in sorted(present - set(expected))]
    return problems


def _shown(name: str) -> str:
    """A file name safe to print: quoted if it holds control characters."""
    return name if name.isprintable() else repr(name)

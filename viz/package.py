"""Raid packages: per cell a signed folder with its map, rosters, raid brief and summary.

A package is what investigators take to a raid and what partner agencies receive::

    cell-C01/
      brief.html        the printable raid brief: the cell, its freeze list and timeline on
                        the first page, then one page per raid site (address, coordinates, whom to
                        arrest, what to seize and freeze per person)
      map.html          the cell map, self-contained and offline
      timeline.png      contacts, payments (USD), reports and arrests of the cell per week
                        (:mod:`ringmap.viz.timeline`), also on the brief's first page
      arrests.csv       per raid site, every person other than a victim tied to it (works or
                        was arrested there, items seized from them there), in this cell,
                        another or none (:mod:`ringmap.viz.raid`)
      seize.csv         per person to arrest, the devices, SIMs/phones, cards and ID
                        documents to seize and the e-wallets/bank accounts to freeze
      persons.csv       agents of the cell, the victims it reached (pseudonymised) and
                        everyone to arrest at its raid sites
      accounts.csv      accounts the agents run or use
      phones.csv        phone numbers and SIM cards
      devices.csv       phones, laptops, other devices
      cards.csv         the freeze list: every card (BIN + last four) and wallet or bank
                        account the cell owns (victims paid into it, or its people hold
                        it), with the payments into each and their total in USD; then cards
                        and wallets its people (and those to arrest) hold that another cell
                        owns
      payments.csv      every payment into the cell's cards and wallets, in USD at its date:
                        they add up to the cell report's money (:mod:`ringmap.analysis.victims`)
      exhibits.csv      seized items with their raid site
      summary.md        the cell at a glance, for people
      summary.json      the same, for programs
      signing-key.pub   the Ed25519 public key that signed the manifest (PEM)
      manifest.json     SHA-256 and size of every file above, and the signing key's fingerprint
      manifest.sig      the Ed25519 signature of manifest.json (base64)

CSV cells that a spreadsheet would run as a formula are neutralised (:func:`tabular.write_csv`).
A package is written into a temporary folder beside its target and renamed into place, so a
failure leaves nothing half-written. :func:`verify_package` checks the signature, then every
file against the manifest: a file edited and its hash recomputed in the manifest breaks the
signature; a package re-signed with another key shows that key's fingerprint, which differs
from the one the sender gave (``ringmap verify --key``).
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from functools import partial
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any

import networkx as nx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ringmap import __version__
from ringmap.analysis.fx import FxTable
from ringmap.analysis.report import country_label, money_received
from ringmap.analysis.victims import victim_country
from ringmap.errors import ConfigError, ExportError, NotFound
from ringmap.fileio import private_umask, remove_stale_temporaries, temporary_suffix
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import CellRecord, utcnow
from ringmap.graphs.schema import SCHEMA
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy, is_victim, mask_value, require_reason
from ringmap.signing import (
    fingerprint,
    load_signing_key,
    public_key_pem,
    read_public_key,
    signature_valid,
)
from ringmap.tabular import write_csv
from ringmap.viz.brief import Brief, render_brief
from ringmap.viz.maps import cells_detail_map
from ringmap.viz.raid import arrest_rows, raid_sites, seize_rows
from ringmap.viz.reach import (
    CellReach,
    cell_of,
    figures,
    linked,
    named_cells,
    reach_cells,
    select_cells,
)
from ringmap.viz.render import render_map
from ringmap.viz.timeline import cell_timeline, timeline_png

__all__ = ["MANIFEST", "PACKAGE_FORMAT", "PUBLIC_KEY", "SIGNATURE", "PackageResult",
           "Verification", "export_cell", "export_cells", "package_name", "verify_package",
           "write_package"]

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "signing-key.pub"
TIMELINE = "timeline.png"
PACKAGE_FORMAT = "ringmap-raid-package/2"
_CHUNK = 1 << 20
#: files of a package synced to disk at once: a raid package's 17 synced one after another
#: took 90-110 ms of each package's wall time while the disk was busy, 8 at once 10-15 ms
#: (a journal commit serves every sync waiting for it)
_SYNCING = 8
#: properties no roster lists: a card's operation tokens go into match packages only
_UNLISTED = frozenset({"match_tokens"})


@dataclass(frozen=True, slots=True)
class PackageResult:
    """A written package: where, which cell, and how many rows each roster holds."""

    path: Path
    cell_id: str
    rows: dict[str, int]
    signed_by: str
    """The fingerprint of the key that signed it."""


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
                 privacy: Privacy, cell_of: Mapping[str, str]) -> None:
        self.graph = graph
        self.found = found
        self.privacy = privacy
        self.cell_of = cell_of
        self.confidence = {m.node_id: m.confidence for m in cell.members}
        self.fx = FxTable.load()
        self.sites = raid_sites(graph, found.sites, privacy, cell_of)
        people = set(self._of("Person"))
        #: persons to arrest at the cell's sites that its footprint does not hold
        self.at_sites = sorted({a.node for s in self.sites for a in s.arrests} - people)

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
        for node in [*self._of("Person"), *sorted(self.found.victims), *self.at_sites]:
            row = self._base(node)
            row["raid_sites"] = self._labels(node, ("WORKS_AT", "ARRESTED_AT"))
            row["cell"] = self.cell_of.get(node)
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
        held = {*self._of("PaymentCard", "FinancialAccount"),
                *(i.node for s in self.sites for a in s.arrests for i in a.items
                  if i.kind in ("PaymentCard", "FinancialAccount"))}
        for node in held | self.found.cards:
            owned = node in self.found.cards
            money = money_received(self.graph, [p for p in self.found.payments
                                                if p.card == node], self.fx)
            rows.append({**self._base(node), "type": self.graph.nodes[node]["type"],
                         "label": self.privacy.label(node, self.graph.nodes[node]),
                         "held_by": self._labels(node, ("HOLDS",), "in"),
                         "owned_by_cell": owned,
                         "payments_received": money.payments,
                         "received": "; ".join(f"{a:,.2f} {c}"
                                               for c, a in money.by_currency.items()),
                         "received_usd": money.usd})
        rows.sort(key=lambda r: (not r["owned_by_cell"], -r["received_usd"], r["id"]))
        return rows

    def payments(self) -> list[dict[str, Any]]:
        """Every payment into the cell's cards and wallets (those :meth:`cards` adds up)."""
        rows = []
        for paid in self.found.payments:
            money = money_received(self.graph, [paid], self.fx)
            payer = paid.payer
            rows.append({**self._base(paid.payment),
                         "usd": None if money.unconverted else money.usd,
                         "into_id": self.privacy.public_id(paid.card),
                         "into": self.privacy.label(paid.card, self.graph.nodes[paid.card]),
                         "payer_id": self.privacy.public_id(payer) if payer else None,
                         "payer": self.privacy.label(payer, self.graph.nodes[payer])
                         if payer else None,
                         "payer_country": country_label(self.graph, payer)})
        rows.sort(key=lambda r: (str(r.get("time") or ""), r["id"]))
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
        """Fixed columns: id, the schema's properties of the roster's types, then the extras
        (only the extras for a table of no entity type)."""
        if not self.types:
            return list(self.extra)
        props = dict.fromkeys(p for t in self.types for p in SCHEMA.entity(t).properties
                              if p not in _UNLISTED)
        return ["id", *(("type",) if len(self.types) > 1 else ()), *props,
                "in_cell", "confidence", *self.extra]


_ROSTERS: dict[str, _Roster] = {
    "persons.csv": _Roster(_Rosters.persons, ("Person",),
                           ("cell", "raid_sites", "country", "paid", "pseudonym",
                            "same_as")),
    "accounts.csv": _Roster(_Rosters.accounts, ("Account",), ("used_by", "same_as")),
    "phones.csv": _Roster(_Rosters.phones, ("Phone", "SimCard"), ("used_by", "linked")),
    "devices.csv": _Roster(_Rosters.devices, ("Device",), ("used_by", "sims")),
    "cards.csv": _Roster(_Rosters.cards, ("PaymentCard", "FinancialAccount"),
                         ("held_by", "owned_by_cell", "payments_received", "received",
                          "received_usd")),
    "payments.csv": _Roster(_Rosters.payments, (),
                            ("id", "channel", "reference", "time", "amount", "currency", "usd",
                             "into_id", "into", "payer_id", "payer", "payer_country")),
    "exhibits.csv": _Roster(_Rosters.exhibits, ("Exhibit",),
                            ("item", "seized_from", "raid_site", "raid_site_coordinates")),
    "arrests.csv": _Roster(lambda r: arrest_rows(r.sites), (),
                           ("site_id", "site", "address", "lat", "lon", "person_id", "name",
                            "alias", "role", "cell", "ties", "items_to_seize",
                            "accounts_to_freeze")),
    "seize.csv": _Roster(lambda r: seize_rows(r.sites), (),
                         ("person_id", "person", "sites", "action", "type", "item_id", "item",
                          "tie", "exhibits")),
}


def _to_arrest(rosters: _Rosters, cell_id: str) -> dict[str, int]:
    people = {a.node: a.cell for s in rosters.sites for a in s.arrests}
    return {"persons": len(people),
            "in_this_cell": sum(c == cell_id for c in people.values()),
            "in_other_cells": sum(c not in (None, cell_id) for c in people.values()),
            "in_no_cell": sum(c is None for c in people.values())}


def _summary(graph: nx.MultiDiGraph, found: CellReach, rosters: _Rosters, cell: CellRecord,
             run_id: str, rows: Mapping[str, int], reason: str | None, signed_by: str,
             analysis: dict[str, Any]) -> dict[str, Any]:
    privacy = rosters.privacy
    counted = figures(graph, found, cell)
    types: dict[str, int] = {}
    for node in found.footprint:
        kind = str(graph.nodes[node].get("type"))
        types[kind] = types.get(kind, 0) + 1
    sites = [{"site": s.label, "id": s.id, "address": s.address, "lat": s.lat, "lon": s.lon,
              "to_arrest": len(s.arrests)} for s in rosters.sites]
    summary: dict[str, Any] = mask_value({  # every text: the reason, the analysis, ...
        "format": PACKAGE_FORMAT,
        "cell_id": cell.cell_id,
        "cell_run": run_id,
        "created": utcnow().isoformat(),
        "ringmap_version": __version__,
        "signed_by": signed_by,
        "victims_pseudonymised": not privacy.reveal,
        "victim_details_reason": reason,
        "members": len(found.members),
        "entities": dict(sorted(types.items())),
        "victims": counted.victims,
        "victims_by_country": counted.by_country,
        "money_received": counted.money.by_currency,
        "money_received_usd": counted.money.usd,
        "figures_from": counted.source,
        "victims_listed": len(found.victims),
        "to_arrest": _to_arrest(rosters, cell.cell_id),
        "raid_sites": sites,
        "exhibits": len(found.exhibits),
        "rows": dict(rows),
        "analysis": analysis,
    })
    return summary


def _summary_md(summary: Mapping[str, Any]) -> str:
    def line(text: str) -> str:  # evidence text must not become Markdown structure
        return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", " ".join(text.split()))

    money = "; ".join(f"{a:,.2f} {c}" for c, a in summary["money_received"].items()) or "none"
    arrest = summary["to_arrest"]
    out = [f"# Raid package: cell {line(summary['cell_id'])}", "",
           f"- Cell run: {line(summary['cell_run'])}",
           f"- Created: {summary['created']} (ringmap {summary['ringmap_version']})",
           f"- Signed by key: {summary['signed_by']} (check it with `ringmap verify --key`)",
           f"- Members: {summary['members']}",
           f"- Victims reached: {summary['victims']} ({summary['victims_listed']} with a direct "
           "evidence link are listed in persons.csv)",
           f"- Money received: {money} (USD {summary['money_received_usd']:,.2f}; every "
           "payment in payments.csv, the freeze list in cards.csv)",
           f"- To arrest at its raid sites: {arrest['persons']} ({arrest['in_this_cell']} of "
           f"this cell, {arrest['in_other_cells']} of other cells, {arrest['in_no_cell']} in "
           "no cell; arrests.csv, what to seize in seize.csv, brief.html to print)",
           f"- Figures from: the {summary['figures_from']}",
           f"- Exhibits: {summary['exhibits']}",
           "- Victims: " + ("pseudonymised" if summary["victims_pseudonymised"] else
                            "shown in full, reason: " + line(summary["victim_details_reason"]
                                                             or "")),
           "", "## Victims by country", ""]
    out += [f"- {line(c)}: {n}" for c, n in summary["victims_by_country"].items()] or ["- none"]
    out += ["", "## Raid sites", ""]
    out += [f"- {line(str(s['site']))}, {line(s['address'])} ({s['lat']}, {s['lon']}): "
            f"{s['to_arrest']} to arrest" for s in summary["raid_sites"]]
    if not summary["raid_sites"]:
        out.append("- none known")
    out += ["", "## Entities", ""]
    out += [f"- {line(k)}: {n}" for k, n in summary["entities"].items()]
    out += ["", "## Files", ""]
    out += [f"- {name}: {n} rows" for name, n in summary["rows"].items()]
    return "\n".join(out) + "\n"


def _manifest(folder: Path, signed_by: str, kind: str) -> bytes:
    listed = {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
              for p in sorted(folder.iterdir())}
    return (json.dumps({"format": kind, "signed_by": signed_by, "files": listed},
                       indent=2) + "\n").encode()


def _made_durable(path: Path, mode: int) -> None:
    """Give the file ``path`` the permissions ``mode`` and sync it to disk."""
    with path.open("rb") as handle:
        os.fchmod(handle.fileno(), mode)
        os.fsync(handle.fileno())


def write_package(target: Path, files: Callable[[Path], None], key: Ed25519PrivateKey,
                  kind: str = PACKAGE_FORMAT) -> None:
    """Write a package (``files`` fills the folder it is given) into a temporary folder
    beside ``target``, sign its manifest (format ``kind``), then rename it into place;
    :func:`verify_package` checks any of them."""
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
        (staging / PUBLIC_KEY).write_bytes(public_key_pem(key.public_key()))
        manifest = _manifest(staging, fingerprint(key.public_key()), kind)
        (staging / MANIFEST).write_bytes(manifest)
        (staging / SIGNATURE).write_text(base64.b64encode(key.sign(manifest)).decode() + "\n",
                                         encoding="ascii")
        mode = 0o666 & ~private_umask()  # private whatever the process's umask
        with ThreadPoolExecutor(_SYNCING) as syncing:
            # at once: one after another, each fsync waited for a journal commit of its own
            for _ in syncing.map(partial(_made_durable, mode=mode), list(staging.iterdir())):
                pass
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(staging, target)
    except OSError as exc:
        raise ExportError(f"cannot write the package {target}: {exc.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already once the rename happened


@dataclass(frozen=True, slots=True)
class _Job:
    """What every package of one export shares."""

    store: Store
    graph: nx.MultiDiGraph
    run_id: str
    cell_of: Mapping[str, str]
    privacy: Privacy
    """The policy of every package, decided once for the whole graph (not once per cell)."""
    reason: str | None
    key: Ed25519PrivateKey
    reports: Mapping[str, str] | None = None
    """Each cell's report as JSON text (:func:`_report_texts`) where the cells were read
    without them; else each cell's own."""

    def analysis(self, cell: CellRecord) -> dict[str, Any]:
        """The report of ``cell`` as its package shows it."""
        if self.reports is not None:
            shown: dict[str, Any] = json.loads(self.reports[cell.cell_id])
            return shown
        return _analysis(cell)


def _analysis(cell: CellRecord) -> dict[str, Any]:
    return cell.summary.model_dump(mode="json") if cell.summary else {}


#: cells whose reports :func:`_report_texts` reads at once: a 5,400-cell run's reports read
#: whole were about 1.1 GB of objects (0.21 MB a cell at 600 cells)
_REPORTS_AT_ONCE = 100


def _report_texts(store: Store, run_id: str, cells: Sequence[str]) -> dict[str, str]:
    """The report of each of ``cells`` of the run ``run_id`` as JSON text, as its package
    shows it (``json.loads`` of it is the report's ``model_dump``), read a few cells at a
    time: every report is checked, and one this version cannot read raises
    :class:`~ringmap.errors.StoreError` naming its cell."""
    texts = {}
    for start in range(0, len(cells), _REPORTS_AT_ONCE):
        for cell in store.load_cells(run_id, explanations=False,
                                     cell_ids=cells[start:start + _REPORTS_AT_ONCE]):
            texts[cell.cell_id] = json.dumps(_analysis(cell))
    return texts


def _report_texts_in(case: Path, run_id: str, cells: Sequence[str]) -> dict[str, str]:
    """:func:`_report_texts` in a forked process, on a connection of its own."""
    store = EmbeddedStore(case, create=False)
    try:
        return _report_texts(store, run_id, cells)
    finally:
        store.close()


@contextmanager
def _checking_reports(store: Store, run_id: str, cells: Sequence[str]
                      ) -> Iterator[Callable[[], dict[str, str]]]:
    """Every report of ``cells`` checked and made text (:func:`_report_texts`) while the
    caller does its own work: in a forked process on an embedded case (validating a
    5,400-cell run's reports took 15-19 CPU-s before the evidence graph was read), here
    otherwise. The caller gets the texts, or the error, from what this yields."""
    if not (isinstance(store, EmbeddedStore) and _FORK in get_all_start_methods()):
        texts = _report_texts(store, run_id, cells)
        yield lambda: texts
        return
    with ProcessPoolExecutor(1, get_context(_FORK)) as pool:
        checked = pool.submit(_report_texts_in, store.path, run_id, cells)

        def result() -> dict[str, str]:
            try:
                return checked.result()
            except BrokenProcessPool:
                raise ExportError("the process reading the cells' reports stopped (out of "
                                  "memory?); no package was written") from None

        yield result


def _brief(summary: Mapping[str, Any], rosters: _Rosters, cards: list[dict[str, Any]],
           timeline: bytes) -> str:
    privacy = rosters.privacy
    return render_brief(Brief(
        cell_id=summary["cell_id"], cell_run=summary["cell_run"], created=summary["created"],
        figures={"members": summary["members"], "victims": summary["victims"],
                 "victims_by_country": summary["victims_by_country"],
                 "money": summary["money_received"], "usd": summary["money_received_usd"]},
        freeze=cards,
        sites=rosters.sites, signed_by=summary["signed_by"],
        victims="pseudonymised" if not privacy.reveal else
        f"shown in full (reason: {summary['victim_details_reason']})",
        timeline_png="data:image/png;base64," + base64.b64encode(timeline).decode()))


def _export(job: _Job, cell: CellRecord, found: CellReach, target: Path) -> PackageResult:
    rosters = _Rosters(job.graph, found, cell, job.privacy, job.cell_of)
    rows: dict[str, int] = {}
    signed_by = fingerprint(job.key.public_key())

    def files(folder: Path) -> None:
        # the cell's footprint as found already: no second read of the run's cells
        html = render_map(cells_detail_map(job.store, job.graph, [cell], [found],
                                           job.privacy, f"Cell {cell.cell_id}"))
        (folder / "map.html").write_text(html, encoding="utf-8")
        built: dict[str, list[dict[str, Any]]] = {}
        for name, roster in _ROSTERS.items():
            built[name] = roster.build(rosters)
            # a plain write: the staging folder is renamed into place whole, its files synced
            with (folder / name).open("w", encoding="utf-8", newline="") as handle:
                rows[name] = write_csv(handle, built[name], roster.columns())
        summary = _summary(job.graph, found, rosters, cell, job.run_id, rows, job.reason,
                           signed_by, job.analysis(cell))
        (folder / "summary.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n",
            encoding="utf-8")
        (folder / "summary.md").write_text(_summary_md(summary), encoding="utf-8")
        timeline = timeline_png(cell_timeline(job.graph, found.members, found.payments,
                                              rosters.fx, title=f"Cell {cell.cell_id}"))
        (folder / TIMELINE).write_bytes(timeline)
        (folder / "brief.html").write_text(
            _brief(summary, rosters, [c for c in built["cards.csv"] if c["owned_by_cell"]],
                   timeline), encoding="utf-8")

    write_package(target, files, job.key)
    return PackageResult(target, cell.cell_id, rows, signed_by)


def export_cell(store: Store, cell_id: str, out: Path, *, reveal: bool = False,
                reason: str | None = None, graph: nx.MultiDiGraph | None = None
                ) -> PackageResult:
    """Write the raid package of one cell of the latest cell run into the folder ``out``,
    signed with the signing key (:func:`ringmap.signing.load_signing_key`).

    ``reveal`` (``--include-victim-details``) shows victims' identities; it needs a ``reason``.
    ``graph`` is the evidence graph if the caller already read it (else it is read from the
    store's arrays, :meth:`~ringmap.graphs.store.Store.evidence`: at 600 cells a graph of
    Python dicts took 0.17 GB more, at 2.6M rows some 6 GB).
    """
    require_reason(reveal, reason)
    run_id, run = select_cells(store, None)  # money goes to one cell among all of the run's
    records = named_cells(run_id, run, [cell_id])
    key = load_signing_key()
    graph = store.evidence() if graph is None else graph
    found = reach_cells(graph, records, run)[0]
    job = _Job(store, graph, run_id, cell_of(run), Privacy.for_graph(graph, reveal=reveal),
               reason, key)
    return _export(job, records[0], found, Path(out))


def export_cells(store: Store, out: Path, *, reveal: bool = False,
                 reason: str | None = None, graph: nx.MultiDiGraph | None = None,
                 workers: int | None = None,
                 latest: tuple[str, list[CellRecord]] | None = None,
                 reaches: list[CellReach] | None = None,
                 privacy: Privacy | None = None) -> list[PackageResult]:
    """Write one package per cell of the latest run into ``out/cell-<id>/`` (``graph`` as
    for :func:`export_cell`; ``latest``: the latest run's id and its cells, not empty, where
    the caller holds them, as :func:`~ringmap.analysis.explain.write_cells` hands them back:
    a package reads no explanation, and every cell read back with its explanations was most
    of what the packages added to a run's memory; ``reaches``: the reach of each of
    ``latest``'s cells, :func:`~ringmap.viz.reach.reach_cells` of ``graph``, where the caller
    found them already, as ``ringmap run`` does once for its maps and packages; ``privacy``:
    :meth:`Privacy.for_graph` of ``graph`` and ``reveal`` where the caller made it already).

    Packages of an embedded case are written by ``workers`` processes at once (default: one
    per CPU this process may use), each reading the case on its own connection and writing a
    few dozen packages before a fresh one takes its place (a worker's memory is that of a few
    packages, whatever the case's size); the packages are the same as one process writes, and
    come back in the run's order. Without ``latest``, the cells' reports are read and checked
    in another process while this one reads the evidence graph; one that this version cannot
    read stops the export before any package is written.
    """
    require_reason(reveal, reason)
    out = Path(out)
    remove_stale_temporaries(out)  # a killed export's staging folders, even if this one stops
    # the run's cells read with their reports' figures alone: their reports are checked, and
    # made the packages' text, in another process while this one reads the evidence (read
    # here, they were 15-19 CPU-s and 1.1 GB of a 5,400-cell export before its first package)
    run_id, records = select_cells(store, None, reports=False) if latest is None else latest
    targets = [out / package_name(c.cell_id) for c in records]
    taken = [str(t) for t in targets if t.exists()]
    if taken:
        raise ExportError(f"{len(taken)} package folder(s) already exist, e.g. {taken[0]}; "
                          "remove them or choose another --out")
    key = load_signing_key()
    checking: AbstractContextManager[Callable[[], Mapping[str, str] | None]] = (
        nullcontext(lambda: None) if latest is not None
        else _checking_reports(store, run_id, [c.cell_id for c in records]))
    with checking as reports:
        graph = store.evidence() if graph is None else graph
        privacy = Privacy.for_graph(graph, reveal=reveal) if privacy is None else privacy
        if latest is None or reaches is None:
            reaches = reach_cells(graph, records)
        job = _Job(store, graph, run_id, cell_of(records), privacy, reason, key, reports())
    cells = list(zip(records, reaches, targets, strict=True))
    processes = min(len(cells), len(os.sched_getaffinity(0)) if workers is None else workers)
    if processes > 1 and isinstance(store, EmbeddedStore) and _FORK in get_all_start_methods():
        return _export_forked(job, cells, processes)
    return [_export(job, *cell) for cell in cells]


_FORK = "fork"
#: packages a forked worker writes before a fresh fork takes over. Each page of the parent a
#: worker touches (the reference count of every node id and attribute it reads) is copied
#: into it: at 600 cells a worker's own memory grew by 0.6 MB a package, to 0.21 GB after
#: 300, and one writing 2,700 packages of a 5,400-cell case would end up holding a copy of
#: most of the evidence graph
_PER_WORKER = 40
#: what the forked workers of :func:`_export_forked` write: set before they start, so they
#: inherit it (the graph is not copied to them, nor pickled)
_forked: tuple[_Job, list[tuple[CellRecord, CellReach, Path]]] | None = None


def _export_forked(job: _Job, cells: list[tuple[CellRecord, CellReach, Path]],
                   processes: int) -> list[PackageResult]:
    """The packages of ``cells`` written by ``processes`` forked workers, in ``cells``' order,
    each worker writing :data:`_PER_WORKER` of them before a fresh fork of this process takes
    its place. The first is written here: what every package fills once per process (the
    map's compiled template, the fonts found and text measured for the timeline, ...) is
    then inherited by each fresh worker instead of made again in it."""
    global _forked
    written = [_export(job, *cells[0])]
    _forked = (job, cells)
    gc.freeze()  # the collector would touch, and so copy, every object the workers inherit
    batch = processes * _PER_WORKER
    try:
        for start in range(1, len(cells), batch):
            with ProcessPoolExecutor(processes, get_context(_FORK), _start_worker) as pool:
                written += pool.map(_export_nth, range(start, min(start + batch, len(cells))))
        return written
    except BrokenProcessPool:
        raise ExportError("a process writing raid packages stopped (out of memory?); the "
                          "packages written are complete, run the export again for the rest "
                          "into an empty --out") from None
    finally:
        gc.unfreeze()
        _forked = None


def _start_worker() -> None:
    """In a forked worker: read the case on a connection of its own (an SQLite connection
    must not cross a fork), through a memory map."""
    global _forked
    assert _forked is not None
    job, cells = _forked
    assert isinstance(job.store, EmbeddedStore)  # _export_forked forks for these alone
    store = EmbeddedStore(job.store.path, create=False)
    store.read_mapped()  # a fresh worker's own page cache would start empty
    _forked = (replace(job, store=store), cells)


def _export_nth(index: int) -> PackageResult:
    assert _forked is not None
    job, cells = _forked
    return _export(job, *cells[index])


@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify_package` found."""

    problems: list[str]
    """Every way the package differs from its signed manifest; empty when intact."""
    signed_by: str | None
    """The fingerprint of the key whose signature of the manifest is valid (None: none is)."""
    key_checked: bool
    """Whether ``signed_by`` was compared with a key the caller expects."""


def _signature(folder: Path, manifest: bytes, expected: str | None
               ) -> tuple[list[str], str | None]:
    """Problems with the manifest's signature, and the fingerprint of a valid signer."""
    try:
        public = read_public_key((folder / PUBLIC_KEY).read_bytes())
        signature = base64.b64decode((folder / SIGNATURE).read_bytes().strip(), validate=True)
    except FileNotFoundError as exc:
        return [f"unsigned: no {_shown(Path(str(exc.filename)).name)}"], None
    except (OSError, ValueError, ConfigError):
        return [f"unsigned: {PUBLIC_KEY} or {SIGNATURE} is not readable"], None
    if not signature_valid(public, signature, manifest):
        return [f"changed: {MANIFEST} does not match its signature (edited after signing, "
                f"or signed with another key than {PUBLIC_KEY})"], None
    signed_by = fingerprint(public)
    if expected is not None and signed_by != expected:
        return [f"wrong key: signed by {signed_by}, not by the expected {expected}"], signed_by
    return [], signed_by


def verify_package(folder: Path, expected_key: str | None = None) -> Verification:
    """Check the package in ``folder``: the manifest's signature (by ``expected_key``, a
    fingerprint, when given), then every file against the manifest.

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
        raw = (folder / MANIFEST).read_bytes()
        manifest = json.loads(raw)
        listed: dict[str, Any] = manifest["files"]
        expected = {str(name): str(entry["sha256"]) for name, entry in listed.items()}
    except FileNotFoundError:
        raise ExportError(f"{folder} has no {MANIFEST}: not a ringmap package") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ExportError(f"{folder / MANIFEST} is not a readable ringmap manifest") from None
    problems, signed_by = _signature(folder, raw, expected_key)
    if signed_by is not None and manifest.get("signed_by") != signed_by:
        problems.append(f"changed: {MANIFEST} names another signing key than the one that "
                        f"signed it ({signed_by})")
    problems += [f"invalid: {name!r} in the manifest is not a plain file name"
                 for name in sorted(expected) if name in ("", ".", "..", MANIFEST, SIGNATURE)
                 or "/" in name or "\\" in name]
    present = {p.name for p in folder.iterdir()} - {MANIFEST, SIGNATURE}
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
    return Verification(problems, signed_by, expected_key is not None)


def _shown(name: str) -> str:
    """A file name safe to print: quoted if it holds control characters."""
    return name if name.isprintable() else repr(name)

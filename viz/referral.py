"""Referral packages: what a partner agency needs about the victims in its country.

``ringmap export referral --country GB`` writes a signed folder
(:func:`~ringmap.viz.package.write_package`, checked by ``ringmap verify`` like a raid package)::

    referral-GB/
      victims.csv       the victims located there (pseudonymised unless the user asks
                        otherwise): accounts, who contacted them, first and last contact,
                        what they paid
      offenders.csv     the offender accounts and numbers that contacted them, who uses them,
                        their cell, the victims they contacted there, first and last contact
      payments.csv      every payment from that country (the payer's) into the scope's cards
                        and wallets, in USD at its date
      evidence.csv      the evidence behind each victim, its country, each contact and each
                        payment: file, SHA-256, row, exhibit or report reference, grading
      map.html          the world map (:func:`~ringmap.viz.world.victim_map`) of this part of
                        the case: the country, its victims' count, the cells or offender that
                        reached them and their raid sites
      timeline.png      contacts, payments, reports and arrests per week of this part
      summary.md, summary.json, signing-key.pub, manifest.json, manifest.sig

The scope is the whole case, one cell of the latest run (``--cell``) or one offender
(``--offender KEY``: a person and what they use, as a cell's side). Its victims are those of
:mod:`ringmap.analysis.victims` (contacted by its side, or paying into its cards and wallets),
counted in a country as the cell report counts them (:func:`~ringmap.analysis.report.
country_label`): a referral's victims are the cell report's ``victims_by_country`` entry.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import networkx as nx

from ringmap import __version__
from ringmap.analysis.fx import FxTable
from ringmap.analysis.report import UNKNOWN_COUNTRY, country_label, money_received
from ringmap.analysis.victims import Paid, cell_side, reached
from ringmap.errors import ConfigError, ExportError
from ringmap.graphs.model import CellMember, CellRecord, edge_id, utcnow
from ringmap.graphs.normalise import country_table
from ringmap.graphs.resolve import resolve
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy, is_victim, mask_value, require_reason, victim_side
from ringmap.signing import fingerprint, load_signing_key
from ringmap.tabular import write_csv
from ringmap.viz.package import write_package
from ringmap.viz.reach import cell_of, linked, named_cells, reach_cells, select_cells
from ringmap.viz.render import MapSpec, render_map
from ringmap.viz.timeline import case_timeline, write_timeline
from ringmap.viz.world import OFFENDER, victim_map

__all__ = ["REFERRAL_FORMAT", "ReferralResult", "Scope", "export_referrals", "referral_name",
           "scope_of"]

REFERRAL_FORMAT = "ringmap-referral-package/1"
_CONTACTABLE = frozenset({"Account", "Phone"})
_MONEY = frozenset({"PaymentCard", "FinancialAccount"})
_EVIDENCE = ("item", "kind", "file", "sha256", "row", "ref", "grading")


@dataclass(frozen=True, slots=True)
class Scope:
    """The part of the case a referral speaks for: its side (None: the whole case), its
    victims and the payments into its cards and wallets, and the cells its map draws."""

    name: str
    side: frozenset[str] | None
    victims: frozenset[str]
    payments: tuple[Paid, ...]
    cells: list[CellRecord] = field(default_factory=list)


def _case_payments(graph: nx.MultiDiGraph) -> tuple[Paid, ...]:
    paid = []
    for payment, card, rel in graph.edges(keys=True):
        if rel == "PAID_TO" and graph.nodes[card].get("type") in _MONEY:
            payers = sorted(o for r, d, o in linked(graph, payment, ("PAID",)) if d == "in")
            paid.append(Paid(payment, card, payers[0] if payers else None))
    return tuple(sorted(paid, key=lambda p: (p.payment, p.card)))


def _unreported(cells: Iterable[CellRecord]) -> list[CellRecord]:
    """The cells without their saved reports: a referral's map counts only its part."""
    return [c.model_copy(update={"summary": None}) for c in cells]


def scope_of(store: Store, graph: nx.MultiDiGraph, *, cell: str | None = None,
             offender: str | None = None) -> Scope:
    """The whole case, ``cell`` of the latest run, or the ``offender`` (a key
    :func:`~ringmap.graphs.resolve.resolve` reads) and what they use."""
    if cell is not None and offender is not None:
        raise ConfigError("give --cell or --offender, not both")
    if cell is not None:
        run_id, run = select_cells(store, None)  # cards go to one cell among all of the run's
        records = named_cells(run_id, run, [cell])
        found = reach_cells(graph, records, run)[0]
        return Scope(f"cell {cell}", frozenset(cell_side(graph, found.members)),
                     frozenset(found.victims), tuple(found.payments), _unreported(records))
    if offender is not None:
        node = resolve(store, offender).id
        if is_victim(graph.nodes.get(node, {})):
            raise ConfigError(f"{offender} is a victim, not an offender")
        hit = reached(graph, [node])
        record = CellRecord(cell_id=OFFENDER, members=[CellMember(node_id=node,
                                                                     confidence=1.0)])
        return Scope(f"offender {node}", hit.side, hit.victims, hit.payments, [record])
    latest = store.latest_cells(explanations=False)
    victims = frozenset(n for n, a in graph.nodes(data=True) if is_victim(a))
    return Scope("case", None, victims, _case_payments(graph),
                 _unreported(latest[1] if latest is not None else []))


@dataclass
class _Contact:
    offender: str
    victim: str
    first: Any
    last: Any
    edge: str


def _owned(graph: nx.MultiDiGraph, victim: str) -> list[str]:
    return sorted(o for r, d, o in linked(graph, victim, ("USES",))
                  if d == "out" and graph.nodes[o].get("type") in _CONTACTABLE)


def _contacts(graph: nx.MultiDiGraph, scope: Scope, victims: Sequence[str],
              victim_side: set[str]) -> list[_Contact]:
    """Contacts between the scope's side (any non-victim for the case) and ``victims``."""
    found = []
    for victim in victims:
        for mine in _owned(graph, victim):
            for rel, direction, other in linked(graph, mine, ("CONTACTED",)):
                if other in victim_side or (scope.side is not None and other not in scope.side):
                    continue
                src, dst = (other, mine) if direction == "in" else (mine, other)
                attrs = graph.edges[src, dst, rel]
                found.append(_Contact(other, victim, attrs.get("first_seen"),
                                      attrs.get("last_seen"), edge_id(rel, src, dst)))
    return found


def referral_name(country: str) -> str:
    """The package folder of a country's referral.

    >>> referral_name("GB")
    'referral-GB'
    """
    return "referral-" + re.sub(r"[^A-Za-z0-9]", "_", country)[:8]


@dataclass(frozen=True, slots=True)
class ReferralResult:
    """A written referral."""

    path: Path
    country: str
    victims: int
    rows: dict[str, int]
    signed_by: str


class _Referral:
    """One country's referral: its rows, the part of the graph it speaks for, its summary."""

    def __init__(self, store: Store, graph: nx.MultiDiGraph, scope: Scope, country: str,
                 privacy: Privacy, cells: dict[str, str], victim_owned: set[str]) -> None:
        self.store, self.graph, self.scope, self.country = store, graph, scope, country
        self.privacy, self.cell_of, self.fx = privacy, cells, FxTable.load()
        self.victims = sorted(v for v in scope.victims if country_label(graph, v) == country)
        self.contacts = _contacts(graph, scope, self.victims, victim_owned)
        self.payments = [p for p in scope.payments
                         if p.payer is not None and country_label(graph, p.payer) == country]

    def _label(self, node: str) -> str:
        return self.privacy.label(node, self.graph.nodes[node])

    def _users(self, node: str) -> list[str]:
        return sorted(o for _, d, o in linked(self.graph, node, ("USES",)) if d == "in"
                      and self.graph.nodes[o].get("type") == "Person")

    def victim_rows(self) -> list[dict[str, Any]]:
        by_victim: dict[str, list[_Contact]] = defaultdict(list)
        for c in self.contacts:
            by_victim[c.victim].append(c)
        rows = []
        for victim in self.victims:
            shown = self.privacy.properties(victim, self.graph.nodes[victim])
            mine = by_victim[victim]
            paid = [p for p in self.payments if p.payer == victim]
            money = money_received(self.graph, paid, self.fx)
            rows.append({
                "id": self.privacy.public_id(victim), "name": shown.get("name"),
                "pseudonym": shown.get("pseudonym"), "age": shown.get("age"),
                "gender": shown.get("gender"), "country": self.country,
                "accounts": "; ".join(self._label(a) for a in _owned(self.graph, victim)),
                "contacted_by": "; ".join(sorted({self._label(c.offender) for c in mine})),
                "first_contact": min((str(c.first) for c in mine if c.first), default=None),
                "last_contact": max((str(c.last) for c in mine if c.last), default=None),
                "payments": money.payments,
                "paid": "; ".join(f"{a:,.2f} {c}" for c, a in money.by_currency.items()),
                "usd": money.usd})
        return rows

    def offender_rows(self) -> list[dict[str, Any]]:
        by_offender: dict[str, list[_Contact]] = defaultdict(list)
        for c in self.contacts:
            by_offender[c.offender].append(c)
        rows = []
        for node, mine in sorted(by_offender.items()):
            attrs = self.graph.nodes[node]
            users = self._users(node)
            rows.append({
                "id": self.privacy.public_id(node), "type": attrs.get("type"),
                "label": self._label(node), "platform": attrs.get("platform"),
                "used_by": "; ".join(self._label(u) for u in users),
                "cell": "; ".join(sorted({self.cell_of[n] for n in (node, *users)
                                          if n in self.cell_of})),
                "victims_here": len({c.victim for c in mine}),
                "first_contact": min((str(c.first) for c in mine if c.first), default=None),
                "last_contact": max((str(c.last) for c in mine if c.last), default=None)})
        return rows

    def payment_rows(self) -> list[dict[str, Any]]:
        rows = []
        for paid in self.payments:
            attrs = self.graph.nodes[paid.payment]
            money = money_received(self.graph, [paid], self.fx)
            assert paid.payer is not None  # only payments of a known payer are from a country
            rows.append({
                "id": self.privacy.public_id(paid.payment), "channel": attrs.get("channel"),
                "reference": self.privacy.value(attrs.get("reference")),
                "time": attrs.get("time"), "amount": attrs.get("amount"),
                "currency": attrs.get("currency"),
                "usd": None if money.unconverted else money.usd,
                "into_id": self.privacy.public_id(paid.card), "into": self._label(paid.card),
                "payer_id": self.privacy.public_id(paid.payer),
                "payer": self._label(paid.payer)})
        rows.sort(key=lambda r: (str(r.get("time") or ""), r["id"]))
        return rows

    def _shown_item(self, item: str) -> str:
        if "->" not in item:
            return self.privacy.public_id(item)
        rel, _, ends = item.partition(":")
        src, _, dst = ends.partition("->")
        return f"{rel}:{self.privacy.public_id(src)}->{self.privacy.public_id(dst)}"

    def evidence_rows(self) -> list[dict[str, Any]]:
        """Where each victim, their country, each contact and each payment comes from."""
        items: dict[str, str] = {}
        for victim in self.victims:
            items[victim] = "victim"
            for _, d, place in linked(self.graph, victim, ("LOCATED_IN",)):
                if d == "out":
                    items[edge_id("LOCATED_IN", victim, place)] = "victim's country"
        items |= {c.edge: "contact" for c in self.contacts}
        for paid in self.payments:
            items[paid.payment] = "payment"
            assert paid.payer is not None
            items[edge_id("PAID", paid.payer, paid.payment)] = "paid by"
        sightings = self.store.provenance_many(items)
        rows = []
        for item, kind in items.items():
            for seen in sightings.get(item, []):
                rows.append({"item": self._shown_item(item), "kind": kind,
                             "file": Path(seen.source_file).name, "sha256": seen.sha256,
                             "row": seen.row, "ref": seen.ref,
                             "grading": f"{seen.grading.grade} ({seen.grading.scheme})"})
        rows.sort(key=lambda r: (r["kind"], r["item"], r["file"], r["row"]))
        return rows

    def part(self) -> nx.MultiDiGraph:
        """The part of the graph the map and timeline draw: the victims, their accounts,
        country and payments, the cards paid into, the offenders that contacted them with
        their users, the side of the scope, its sites and the reports naming any of them."""
        keep = set(self.victims) | {p.payment for p in self.payments}
        keep |= {p.card for p in self.payments}
        for victim in self.victims:
            keep.update(_owned(self.graph, victim))
            keep.update(o for _, d, o in linked(self.graph, victim, ("LOCATED_IN",))
                        if d == "out")
        for c in self.contacts:
            keep.add(c.offender)
            keep.update(self._users(c.offender))
        if self.scope.side is not None:
            keep |= self.scope.side
        people = [n for n in keep if self.graph.nodes[n].get("type") == "Person"
                  and not is_victim(self.graph.nodes[n])]
        for person in people:
            keep.update(o for _, d, o in linked(self.graph, person,
                                                ("WORKS_AT", "ARRESTED_AT", "HOLDS"))
                        if d == "out")
        keep.update(o for n in list(keep) for _, d, o in linked(self.graph, n, ("NAMES",))
                    if d == "in")
        return self.graph.subgraph(keep).copy()


    def world_map(self, part: nx.MultiDiGraph) -> MapSpec:
        """The world map of ``part``, titled for the partner: the cells (or the offender)
        that reached victims here, not every cell of the run."""
        cells = [c for c in self.scope.cells if any(m.node_id in part for m in c.members)]
        table, _ = country_table()
        name = table[self.country].name if self.country in table else self.country
        spec = victim_map(self.store, graph=part, cells=cells)
        return replace(spec, title=f"Referral {self.country} ({name}): victims of the "
                                   f"{self.scope.name}")


def _summary(ref: _Referral, rows: dict[str, int], signed_by: str, reason: str | None
             ) -> dict[str, Any]:
    table, _ = country_table()
    money = money_received(ref.graph, ref.payments, ref.fx)
    summary: dict[str, Any] = mask_value({
        "format": REFERRAL_FORMAT, "country": ref.country,
        "country_name": table[ref.country].name if ref.country in table else ref.country,
        "scope": ref.scope.name, "created": utcnow().isoformat(),
        "ringmap_version": __version__, "signed_by": signed_by,
        "victims": len(ref.victims),
        "victims_counted_as": "the cell report's victims_by_country (analysis/victims.py)",
        "offenders": rows["offenders.csv"], "payments": money.payments,
        "money_paid": money.by_currency, "money_paid_usd": money.usd,
        "victims_pseudonymised": not ref.privacy.reveal, "victim_details_reason": reason,
        "rows": rows})
    return summary


def _summary_md(summary: dict[str, Any]) -> str:
    def line(text: Any) -> str:  # evidence text must not become Markdown structure
        return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", " ".join(str(text).split()))

    paid = "; ".join(f"{a:,.2f} {c}" for c, a in summary["money_paid"].items()) or "none"
    out = [f"# Referral: {line(summary['country_name'])} ({line(summary['country'])})", "",
           f"- Scope: {line(summary['scope'])}",
           f"- Created: {summary['created']} (ringmap {summary['ringmap_version']})",
           f"- Signed by key: {summary['signed_by']} (check it with `ringmap verify --key`)",
           f"- Victims located there: {summary['victims']} (victims.csv)",
           f"- Offender accounts and numbers that contacted them: {summary['offenders']} "
           "(offenders.csv)",
           f"- Payments from there: {summary['payments']}: {paid} (USD "
           f"{summary['money_paid_usd']:,.2f}; payments.csv)",
           "- Evidence references with their gradings: evidence.csv",
           "- Victims: " + ("pseudonymised" if summary["victims_pseudonymised"] else
                            "shown in full, reason: " + line(summary["victim_details_reason"])),
           "", "## Files", ""]
    out += [f"- {name}: {n} rows" for name, n in summary["rows"].items()]
    return "\n".join(out) + "\n"


_FILES: dict[str, tuple[str, ...]] = {
    "victims.csv": ("id", "name", "pseudonym", "age", "gender", "country", "accounts",
                    "contacted_by", "first_contact", "last_contact", "payments", "paid", "usd"),
    "offenders.csv": ("id", "type", "label", "platform", "used_by", "cell", "victims_here",
                      "first_contact", "last_contact"),
    "payments.csv": ("id", "channel", "reference", "time", "amount", "currency", "usd",
                     "into_id", "into", "payer_id", "payer"),
    "evidence.csv": _EVIDENCE,
}


def _countries(graph: nx.MultiDiGraph, scope: Scope, asked: str) -> list[str]:
    present = sorted({country_label(graph, v) for v in scope.victims} - {UNKNOWN_COUNTRY})
    if asked.strip().lower() == "all":
        if not present:
            raise ExportError(f"no victim of the {scope.name} has a known country")
        return present
    table, _ = country_table()
    code = asked.strip().upper()
    if code not in table:
        raise ConfigError(f"--country takes an ISO 3166 code (GB) or all, not {asked!r}")
    if code not in present:
        raise ExportError(f"no victim of the {scope.name} is located in {code} (victims' "
                          f"countries: {', '.join(present) or 'none known'})")
    return [code]


def export_referrals(store: Store, country: str, out: Path, *, cell: str | None = None,
                     offender: str | None = None, reveal: bool = False,
                     reason: str | None = None) -> list[ReferralResult]:
    """Write the referral of ``country`` into the folder ``out``, or with ``country="all"``
    one per victims' country into ``out/referral-<CC>/``; signed with the signing key.

    ``reveal`` (``--include-victim-details``) shows victims' identities; it needs a ``reason``.
    """
    require_reason(reveal, reason)
    graph = store.project()
    scope = scope_of(store, graph, cell=cell, offender=offender)
    countries = _countries(graph, scope, country)
    targets = ([Path(out)] if country.strip().lower() != "all"
               else [Path(out) / referral_name(c) for c in countries])
    taken = [str(t) for t in targets if t.exists() and any(t.iterdir())]
    if taken:
        raise ExportError(f"{taken[0]} already exists; remove it or choose another --out")
    key = load_signing_key()
    signed_by = fingerprint(key.public_key())
    privacy = Privacy.for_graph(graph, reveal=reveal)
    owned = victim_side(graph)  # never an offender, even when shown in full
    latest = store.latest_cells(explanations=False)
    cells = cell_of(latest[1]) if latest is not None else {}
    results = []
    for code, target in zip(countries, targets, strict=True):
        ref = _Referral(store, graph, scope, code, privacy, cells, owned)
        rows: dict[str, int] = {}

        def files(folder: Path, ref: _Referral = ref, rows: dict[str, int] = rows) -> None:
            built = {"victims.csv": ref.victim_rows(), "offenders.csv": ref.offender_rows(),
                     "payments.csv": ref.payment_rows(), "evidence.csv": ref.evidence_rows()}
            for name, columns in _FILES.items():
                rows[name] = write_csv(folder / name, built[name], list(columns))
            part = ref.part()
            html = render_map(ref.world_map(part))
            (folder / "map.html").write_text(html, encoding="utf-8")
            write_timeline(case_timeline(part, ref.fx, title=f"Referral {ref.country} — "
                                                             f"{ref.scope.name}"),
                           folder / "timeline.png")
            summary = _summary(ref, rows, signed_by, reason)
            (folder / "summary.json").write_text(
                json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n",
                encoding="utf-8")
            (folder / "summary.md").write_text(_summary_md(summary), encoding="utf-8")

        write_package(target, files, key, REFERRAL_FORMAT)
        results.append(ReferralResult(target, code, len(ref.victims), rows, signed_by))
    return results

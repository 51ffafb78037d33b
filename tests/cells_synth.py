"""Small seeded evidence graphs with planted cells, for the cells/projection/report tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

import networkx as nx

from ringmap.graphs.model import Batch, Edge, FileLoad, Grading, Node, Sighting
from ringmap.graphs.store import Store


@dataclass
class Planted:
    """An evidence graph and the planted cell of every suspect Person and Account."""

    graph: nx.MultiDiGraph
    truth: dict[str, int]


def _edge(g: nx.MultiDiGraph, rel: str, src: str, dst: str, **props: object) -> None:
    g.add_edge(src, dst, key=rel, type=rel, **props)


def _card_id(cell: int, i: int) -> str:
    """A card node id keyed like a real one: 32 hex characters (stores refuse other keys)."""
    return f"PaymentCard:{cell:016x}{i:016x}"


def planted_case(
    n_cells: int = 6,
    sizes: tuple[int, int] = (5, 12),
    seed: int = 1,
    noise: float = 0.05,
    cgnat_share: float = 0.3,
) -> Planted:
    """Cells of suspects sharing devices, SIMs, emails, an office, mules' cards and victims.

    Hubs that must not fuse cells: a few carrier CGNAT IPs used by ``cgnat_share`` of all
    accounts, a building Wi-Fi IP shared by two cells, victims contacted by two cells;
    ``noise`` is the chance that a suspect also uses a device of another cell.
    """
    rng = random.Random(seed)
    g = nx.MultiDiGraph()
    truth: dict[str, int] = {}
    cgnat = [f"IPAddress:100.64.0.{i}" for i in range(3)]
    for ip in cgnat:
        g.add_node(ip, type="IPAddress", address=ip.split(":", 1)[1])
    devices_of: dict[int, list[str]] = {}
    accounts_of: dict[int, list[str]] = {}
    for c in range(n_cells):
        office = f"Location:office{c}"
        g.add_node(office, type="Location", location_id=f"office{c}", name=f"Office {c}")
        office_ip = f"IPAddress:10.0.{c // 2}.1"  # two cells per building Wi-Fi
        g.add_node(office_ip, type="IPAddress", address=f"10.0.{c // 2}.1")
        size = rng.randint(*sizes)
        devices = [f"Device:c{c}d{i}" for i in range(max(2, size // 3))]
        devices_of[c] = devices
        for i, dev in enumerate(devices):
            sim, phone = f"SimCard:c{c}s{i}", f"Phone:+6391700{c:03d}{i:02d}"
            g.add_node(dev, type="Device", device_id=dev.split(":")[1])
            g.add_node(sim, type="SimCard", iccid=sim.split(":")[1])
            g.add_node(phone, type="Phone", number=phone.split(":")[1])
            _edge(g, "SIM_IN", sim, dev)
            _edge(g, "HAS_NUMBER", sim, phone)
        mule = f"Person:mule{c}"
        g.add_node(mule, type="Person", role="mule", person_id=f"mule{c}")
        cards = [_card_id(c, i) for i in range(2)]
        for card in cards:
            g.add_node(card, type="PaymentCard", card_hash=card.split(":")[1],
                       masked="4111********1111")
            _edge(g, "HOLDS", mule, card)
        emails = [f"Email:c{c}e{i}@mail.test" for i in range(2)]
        for email in emails:
            g.add_node(email, type="Email", address=email.split(":", 1)[1])
        accounts_of[c] = []
        for p in range(size):
            person = f"Person:c{c}p{p}"
            g.add_node(person, type="Person", role="suspect", person_id=f"c{c}p{p}",
                       name=f"Agent {c}-{p}")
            truth[person] = c
            _edge(g, "WORKS_AT", person, office)
            dev = rng.choice(devices)
            _edge(g, "USES", person, dev)
            for a in range(rng.randint(1, 2)):
                account = f"Account:facebook/c{c}p{p}a{a}"
                g.add_node(account, type="Account", platform="facebook", handle=f"c{c}p{p}a{a}")
                truth[account] = c
                accounts_of[c].append(account)
                _edge(g, "USES", person, account)
                for used in {dev, rng.choice(devices)}:  # a second handset now and then
                    _edge(g, "LOGGED_IN_ON", account, used)
                _edge(g, "LOGGED_IN_FROM", account, office_ip)
                _edge(g, "REGISTERED_TO", account, rng.choice(emails))
                if rng.random() < cgnat_share:
                    _edge(g, "LOGGED_IN_FROM", account, rng.choice(cgnat))
    for c in range(n_cells):
        for account in accounts_of[c]:
            for _ in range(2):
                victim = f"Person:v{len(g)}"
                vacc = f"Account:facebook/{victim.split(':')[1]}"
                country = rng.choice(["GB", "US", "HK", "SG"])
                g.add_node(victim, type="Person", role="victim", person_id=victim,
                           nationality=country)
                g.add_node(vacc, type="Account", platform="facebook", handle=vacc)
                _edge(g, "USES", victim, vacc)
                _edge(g, "CONTACTED", account, vacc, count=3)
                if rng.random() < 0.05 and n_cells > 1:  # a victim two cells went after
                    other = rng.choice([o for o in range(n_cells) if o != c])
                    _edge(g, "CONTACTED", rng.choice(accounts_of[other]), vacc)
                if rng.random() < 0.5:
                    pay = f"Payment:wu/{victim.split(':')[1]}"
                    g.add_node(pay, type="Payment", channel="wu", reference=pay,
                               amount=float(rng.choice([500, 1000, 2500])),
                               currency=rng.choice(["USD", "GBP", "PHP"]),
                               time=datetime(2014, 3, 1, 10))
                    _edge(g, "PAID", victim, pay)
                    _edge(g, "PAID_TO", pay, _card_id(c, rng.randint(0, 1)))
    persons = [p for p in truth if p.startswith("Person:")]
    for person in persons:
        if rng.random() < noise and n_cells > 1:
            other = rng.choice([o for o in range(n_cells) if o != truth[person]])
            _edge(g, "USES", person, rng.choice(devices_of[other]))
    return Planted(g, truth)


def load_into(store: Store, case: Planted, grading: str = "B2") -> None:
    """Load a planted case into ``store`` as one evidence file, one row per relationship."""
    g = case.graph
    nodes = []
    for n, attrs in g.nodes(data=True):
        props = {k: v for k, v in attrs.items() if k != "type"}
        nodes.append(Node(n, attrs["type"], props))
    edges = [Edge(rel, s, d, {k: v for k, v in a.items() if k != "type"})
             for s, d, rel, a in g.edges(keys=True, data=True)]
    sightings = [Sighting(n.id, 1) for n in nodes]
    sightings += [Sighting(e.id, row, f"EX-{row}") for row, e in enumerate(edges, start=2)]
    load = FileLoad(sha256="ab" * 32, source_file="/evidence/case.csv", mapping="case",
                    mapping_digest="cd" * 32, run_id="run-1", grading=Grading.parse(grading))
    store.load_file(load, [Batch(nodes, edges, sightings, last_row=len(edges) + 1)])

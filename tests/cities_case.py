"""A case of many small cells at offices in five cities, tied in pairs (issue 16): the cell map
drawn per raid city, with a hostile city name."""

from __future__ import annotations

import networkx as nx

from ringmap.graphs.model import CellMember, CellRecord
from ringmap.privacy import Privacy
from ringmap.tests.browser.case import IMG
from ringmap.viz.cities import city_map
from ringmap.viz.reach import reach_cells
from ringmap.viz.render import MapSpec

#: five cities of two regions; the first a hostile name
CITIES = [(f"Taguig {IMG}", "Metro"), ("Naga City", "Bicol"), ("Iriga City", "Bicol"),
          ("Malolos", "Bulacan"), ("Baliwag", "Bulacan")]
OFFICE_IP = "IPAddress:10.0.0.1"


def tied_case(count: int) -> tuple[nx.MultiDiGraph, list[CellRecord]]:
    """``count`` cells of two agents at an office each, offices in :data:`CITIES` in turn
    (cell i in city i % 5, and every tenth cell at a second office of the next city too);
    each agent has a phone of its own, the two agents of a cell share a device, cell i and
    cell i + 1 share a SIM card when i is even, and every agent uses the office IP."""
    graph = nx.MultiDiGraph()
    graph.add_node(OFFICE_IP, type="IPAddress", address="10.0.0.1")
    records = []
    for i in range(count):
        city, region = CITIES[i % len(CITIES)]
        offices = [f"Location:S{i:04d}"]
        graph.add_node(offices[0], type="Location", name=f"{city} office {i}", city=city,
                       region=region)
        if i % 10 == 0:
            offices.append(f"Location:T{i:04d}")
            other, other_region = CITIES[(i + 1) % len(CITIES)]
            graph.add_node(offices[1], type="Location", name=f"{other} annex {i}", city=other,
                           region=other_region)
        device = f"Device:D{i:04d}"
        graph.add_node(device, type="Device", device_id=f"D{i:04d}")
        members = []
        for a in range(2):
            person, phone = f"Person:P{i:04d}{a}", f"Phone:+6390{i:04d}{a}"
            graph.add_node(person, type="Person", name=f"Agent {i}.{a}", role="suspect")
            graph.add_node(phone, type="Phone", number=phone.split(":")[1])
            graph.add_edge(person, phone, key="USES", type="USES")
            graph.add_edge(person, device, key="USES", type="USES")
            graph.add_edge(person, OFFICE_IP, key="USES", type="USES")
            for office in offices:
                graph.add_edge(person, office, key="WORKS_AT", type="WORKS_AT")
            members.append(CellMember(node_id=person, confidence=1.0))
        records.append(CellRecord(cell_id=f"C{i:04d}", members=members))
    for i in range(0, count - 1, 2):
        sim = f"SimCard:89630{i:05d}"
        graph.add_node(sim, type="SimCard", iccid=sim.split(":")[1])
        for cell in (i, i + 1):
            graph.add_edge(f"Person:P{cell:04d}0", sim, key="USES", type="USES")
    return graph, records


def draw(count: int) -> tuple[MapSpec, nx.MultiDiGraph, list[CellRecord]]:
    """The map of :func:`tied_case` of ``count`` cells, the office IP set aside."""
    graph, records = tied_case(count)
    spec = city_map(graph, records, reach_cells(graph, records), Privacy(), "Cells",
                    {OFFICE_IP})
    return spec, graph, records

"""The agent graph's ties built inside Neo4j, stage by stage, for the GDS engine.

:func:`computed_ties` builds, from the evidence graph in the database, the weighted ties
:func:`~ringmap.analysis.projection.project_agents` builds in Python, by the same rules, and
projects them into a GDS in-memory graph; only the ties (a pair of vertex ids and a weight
each), the agents and the infrastructure come back to Python. Like the Python projection it
runs its stages one after another, each a short statement over the whole graph that
materialises its result for the next as scratch relationships of the run:

1. the agents: ``(unit)-[:RINGMAP_TMP_OWNS {run, v}]->(unit)`` for every suspect and every
   acting account of unknown owner (``v`` its vertex id, in the Python order: suspects, then
   accounts, each by id), ``(account)-[:RINGMAP_TMP_OWNS]->(suspect)`` for a suspect's
   accounts;
2. the attachments, ``(unit)-[:RINGMAP_TMP_HOLDS {run, v, r, stage}]->(identifier)`` with the
   reliability ``r`` of that way of reaching it (the best source grading of each relationship
   on the way, times the indirect factor per step), one statement per way: direct links,
   seized exhibits, places of seized items, chains of identifiers, reports naming an
   identifier, contacts (a victim, or the contact itself between two agents: ``key``), cards
   victims paid into, mules;
3. the ties: holders counted per identifier (the infrastructure threshold), the hub factor
   and the evidence weight per kind, the pair weights summed per pair by a Cypher
   aggregation into ``gds.graph.project``.

The scratch relationships carry the run's id, so two runs never read each other's, and are
deleted when the run ends, also on failure (:func:`computed_ties` is a context manager).
Every value travels as a parameter; the statements are constants.

Where the Python projection's outcome depends on the order it reads the evidence in, the
database differs, on evidence real cases do not hold:

- an identity used by several victims is the victim with the smallest id (Python: the last
  one its graph lists);
- a contacted phone counts as an agent's side when agents hold it before the contacts stage;
  in Python a phone first made a victim by one contact is an agent's side for contacts read
  after it;
- the cards a victim paid into go to the agents who contacted the victim (Python: also to
  any other agent that reached the victim's node before).

Examples
--------
>>> "gds.graph.project" in TIES and "$run" in CLEANUP
True
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ringmap.analysis.projection import AGENT_IDENTIFIERS, ProjectionSettings
from ringmap.graphs.cypher import FILE_GRADINGS
from ringmap.graphs.model import FileLoad
from ringmap.graphs.store import Store

__all__ = ["CLEANUP", "STAGES", "TIES", "ComputedTies", "computed_ties", "file_reliability"]

_IDS = "|".join(sorted(AGENT_IDENTIFIERS))
_SEQ = 4294967296  # a sighting packs ``file_seq << 32 | row``
_BATCH = "IN TRANSACTIONS OF 10000 ROWS"


def _rel(r: str) -> str:
    """The reliability of relationship ``r``: its best source grading where grading applies
    (``$reliability``: file seq as text -> reliability), 1 for one no graded file saw."""
    best = f"$reliability[toString(s / {_SEQ})]"
    return (f"(CASE WHEN $graded THEN coalesce(reduce(b = null, q IN [s IN coalesce({r}._sr, "
            f"[]) | {best}] | CASE WHEN q IS NULL OR q <= b THEN b ELSE q END), 1.0) "
            f"ELSE 1.0 END)")


def _least(a: str, b: str) -> str:
    return f"(CASE WHEN {a} < {b} THEN {a} ELSE {b} END)"


def _attach(stage: int, rel: str, key: str = "null") -> str:
    """Create the attachment of the rows' unit ``u`` (vertex ``v``) to ``x``, the best
    reliability ``rel`` of the rows, in batches of their own (one per unit and identifier:
    writes are what the stages spend most on)."""
    return (f"WITH u, v, x, {key} AS key, max({rel}) AS rel "
            f"CALL (u, v, x, rel, key) {{ CREATE (u)-[:RINGMAP_TMP_HOLDS {{run: $run, v: v, "
            f"r: rel, stage: {stage}, key: key}}]->(x) }} {_BATCH}")


def _holders(x: str, below: int) -> str:
    """Match the units ``u`` (vertex ``v``, best reliability ``hr``) holding ``x`` after the
    stages before ``below``."""
    return (f"MATCH (u)-[h:RINGMAP_TMP_HOLDS]->({x}) "
            f"WHERE h.run = $run AND h.stage < {below} AND h.key IS NULL")


_VICTIM_SIDE = ("(EXISTS { (q:Person)-[:USES]->(o) WHERE q.role = 'victim' } OR "
                "EXISTS { ()-[n:NAMES]->(o) WHERE n.role = 'victim' })")


def _side(n: str) -> str:
    """The units on node ``n``'s side of a contact, as ``[unit, vertex]`` pairs: the agents it
    stands for, else, for a phone, the agents holding it."""
    return (f"CASE WHEN size({n}o) > 0 OR NOT {n}:Phone THEN {n}o ELSE COLLECT {{ "
            f"{_holders(n, 4)} RETURN DISTINCT [u, h.v] }} END")


def _victim(n: str) -> str:
    """The victim a contacted node stands for: the victim using it, else the node itself."""
    return (f"coalesce(head(COLLECT {{ MATCH (w:Person)-[:USES]->({n}) WHERE w.role = "
            f"'victim' RETURN w ORDER BY w.id }}), {n})")


#: The stages, in order; each a statement over the whole graph with ``$run``, ``$graded``,
#: ``$reliability`` and ``$indirect``.
STAGES: tuple[str, ...] = (
    # 1. agents: suspects by id, vertex ids from 0
    "MATCH (p:Person) WHERE p.role = 'suspect' WITH p ORDER BY p.id "
    "WITH collect(p) AS units UNWIND range(0, size(units) - 1) AS v WITH units[v] AS u, v "
    f"CALL (u, v) {{ CREATE (u)-[:RINGMAP_TMP_OWNS {{run: $run, v: v}}]->(u) }} {_BATCH}",
    # acting accounts of unknown owner, by id, after the suspects (not a victim's; holding
    # identifiers, named by a report other than as a victim's, or in touch with a victim)
    "MATCH (a:Account) WHERE NOT EXISTS { (p:Person)-[:USES]->(a) WHERE p.role IN "
    "['suspect', 'victim'] } AND NOT EXISTS { ()-[n:NAMES]->(a) WHERE n.role = 'victim' } "
    "AND (EXISTS { (a)-[:REGISTERED_TO|LOGGED_IN_FROM|LOGGED_IN_ON]->() } "
    "OR EXISTS { ()-[n:NAMES]->(a) WHERE n.role IS NULL OR n.role <> 'victim' } "
    f"OR EXISTS {{ (a)-[:CONTACTED]-(o) WHERE {_VICTIM_SIDE} }}) "
    "WITH a ORDER BY a.id WITH collect(a) AS units "
    "CALL () { MATCH ()-[o:RINGMAP_TMP_OWNS]->() WHERE o.run = $run RETURN count(o) AS first } "
    "UNWIND range(0, size(units) - 1) AS i WITH units[i] AS u, first + i AS v "
    f"CALL (u, v) {{ CREATE (u)-[:RINGMAP_TMP_OWNS {{run: $run, v: v}}]->(u) }} {_BATCH}",
    # a suspect's accounts stand for the suspect
    "MATCH (p:Person)-[:USES]->(a:Account) WHERE p.role = 'suspect' "
    "MATCH (p)-[o:RINGMAP_TMP_OWNS]->(p) WHERE o.run = $run "
    "WITH DISTINCT a, p, o.v AS v "
    f"CALL (a, p, v) {{ CREATE (a)-[:RINGMAP_TMP_OWNS {{run: $run, v: v}}]->(p) }} {_BATCH}",
    # 2. attachments. An account several suspects use ties them (ungraded, as in Python)
    "MATCH (p:Person)-[:USES]->(x:Account) WHERE p.role = 'suspect' "
    "WITH x, collect(DISTINCT p) AS users WHERE size(users) > 1 UNWIND users AS u "
    "MATCH (u)-[o:RINGMAP_TMP_OWNS]->(u) WHERE o.run = $run WITH u, o.v AS v, x "
    + _attach(0, "1.0"),
    # identifiers an agent (or its account) is linked to by one relationship
    "MATCH (n)-[o:RINGMAP_TMP_OWNS]->(u) WHERE o.run = $run "
    "MATCH (n)-[r:USES|HOLDS|REGISTERED_TO|LOGGED_IN_FROM|LOGGED_IN_ON|WORKS_AT|ARRESTED_AT]"
    f"->(x:{_IDS}) WITH u, o.v AS v, x, r " + _attach(0, _rel("r")),
    # reports naming an agent
    "MATCH (n)-[o:RINGMAP_TMP_OWNS]->(u) WHERE o.run = $run "
    "MATCH (x)-[r:NAMES]->(n) WITH u, o.v AS v, x, r " + _attach(0, _rel("r")),
    # items seized from an agent, and where they were seized
    "MATCH (n)-[o:RINGMAP_TMP_OWNS]->(u) WHERE o.run = $run "
    "MATCH (e)-[sf:SEIZED_FROM]->(n) MATCH (e)-[r:EXHIBIT_OF|SEIZED_AT]->(x) "
    "WITH u, o.v AS v, x, r, sf " + _attach(0, _least(_rel("sf"), _rel("r"))),
    # an item seized at a place puts its holders there, one step removed
    "MATCH (e:Exhibit)-[r:SEIZED_AT]->(x) MATCH (e)-[:EXHIBIT_OF]->(item) "
    f"{_holders('item', 1)} WITH x, r, u, h.v AS v, max(h.r) AS hr "
    + _attach(1, f"hr * $indirect * {_rel('r')}"),
    # one step along a chain of identifiers (a SIM in an agent's device, the number of an
    # agent's SIM), each way; both ends are identifiers, so neither end is an agent's own
    f"MATCH (b:{_IDS})-[r:SIM_IN|HAS_NUMBER|REGISTERED_TO]-(x:{_IDS}) "
    f"{_holders('b', 2)} WITH x, r, u, h.v AS v, max(h.r) AS hr "
    + _attach(2, f"hr * $indirect * {_rel('r')}"),
    # a report naming an agent's identifier
    f"MATCH (x:Report)-[r:NAMES]->(b:{_IDS}) "
    f"{_holders('b', 3)} WITH x, r, u, h.v AS v, max(h.r) AS hr "
    + _attach(3, f"hr * $indirect * {_rel('r')}"),
    # contacts: between agents the contact itself ties them (keyed by its edge id, kept on
    # its source node); from agents to anyone else it ties them to that victim
    "MATCH (s)-[c:CONTACTED]->(d) WITH s, d, c, "
    "COLLECT { MATCH (s)-[o:RINGMAP_TMP_OWNS]->(u) WHERE o.run = $run RETURN [u, o.v] } AS so, "
    "COLLECT { MATCH (d)-[o:RINGMAP_TMP_OWNS]->(u) WHERE o.run = $run RETURN [u, o.v] } AS do "
    f"WITH s, d, c, {_side('s')} AS a, {_side('d')} AS b WHERE size(a) > 0 OR size(b) > 0 "
    "WITH c, size(a) > 0 AND size(b) > 0 AS mutual, "
    f"CASE WHEN size(a) > 0 AND size(b) > 0 THEN s WHEN size(a) > 0 THEN {_victim('d')} "
    f"ELSE {_victim('s')} END AS x, "
    "CASE WHEN size(a) = 0 THEN b WHEN size(b) = 0 THEN a ELSE a + b END AS agents, "
    "'CONTACTED:' + s.id + '->' + d.id AS eid "
    "UNWIND agents AS agent WITH DISTINCT c, x, mutual, eid, agent[0] AS u, agent[1] AS v "
    + _attach(4, _rel("c"), "CASE WHEN mutual THEN eid END"),
    # cards and wallets victims paid into belong with the agents who contacted them
    "MATCH (p)-[pd:PAID]->(:Payment)-[pt:PAID_TO]->(x) "
    "WHERE EXISTS { ()-[w:RINGMAP_TMP_HOLDS]->(p) WHERE w.run = $run AND w.stage = 4 "
    f"AND w.key IS NULL }} {_holders('p', 5)} WITH x, pd, pt, u, h.v AS v, max(h.r) AS hr "
    + _attach(5, _least("hr", _least(_rel("pd"), _rel("pt")))),
    # a mule holding a card agents hold ties them
    "MATCH (x:Person)-[r:HOLDS]->(card) WHERE x.role = 'mule' "
    f"{_holders('card', 6)} WITH x, r, u, h.v AS v, max(h.r) AS hr "
    + _attach(6, f"hr * $indirect * {_rel('r')}"),
)

#: the agents, ``id`` by vertex id ``v``
UNITS = ("MATCH (u)-[o:RINGMAP_TMP_OWNS]->(u) WHERE o.run = $run "
         "RETURN u.id AS id, o.v AS v ORDER BY v")

# each identifier's holders (key: an agent-agent contact's edge id) with their best
# reliability and the last stage that reached it (which names its kind, as in Python)
_HELD = ("MATCH ()-[h:RINGMAP_TMP_HOLDS]->(i) WHERE h.run = $run "
         "WITH i, h.key AS key, h.v AS v, max(h.r) AS r, max(h.stage) AS top "
         "WITH i, key, collect([v, r]) AS holders, max(top) AS top "
         "WITH i, key, holders, top, size(holders) AS k ")
_INFRA = "(k > $max_agents OR ($share_cap IS NOT NULL AND k > $share_cap))"
_KIND = ("CASE WHEN i:PaymentCard AND i.partial = true THEN 'masked_card' "
         "WHEN top = 6 THEN 'mule' WHEN top = 4 AND key IS NULL THEN 'victim' "
         "WHEN top = 4 THEN 'contact' ELSE labels(i)[0] END")
_HUB = ("CASE $hub WHEN 'inverse' THEN 1.0 / (k - 1) WHEN 'log' THEN 1.0 / (log(k) / log(2)) "
        "ELSE 1.0 END")

#: identifiers above the infrastructure threshold: ``id`` and ``k``, the agents sharing it
INFRASTRUCTURE = f"{_HELD} WHERE {_INFRA} RETURN coalesce(key, i.id) AS id, k"

#: the ties summed per pair of vertex ids, projected into the GDS graph ``$graph`` and
#: returned: one row, ``ties`` a list of ``[v, w, weight]`` (``v < w``, in no order); no
#: row (and no graph) when no agents are tied
TIES = (
    f"{_HELD} WHERE k >= 2 AND NOT {_INFRA} "
    f"WITH holders, k, coalesce($weights[{_KIND}], 1.0) * ({_HUB}) AS base "
    "UNWIND range(0, k - 2) AS x UNWIND range(x + 1, k - 1) AS y "
    "WITH holders[x] AS p, holders[y] AS q, base "
    f"WITH {_least('p[0]', 'q[0]')} AS a, CASE WHEN p[0] < q[0] THEN q[0] ELSE p[0] END AS b, "
    f"base * {_least('p[1]', 'q[1]')} AS w "
    "WITH a, b, sum(w) AS weight "
    "WITH collect([a, b, weight]) AS ties "
    # grouped by a key, so that no ties project no graph (and return no row)
    "CALL (ties) { UNWIND ties AS t WITH t, true AS tied "
    "RETURN tied, gds.graph.project($graph, t[0], t[1], "
    "{relationshipProperties: {weight: t[2]}}, "
    "{undirectedRelationshipTypes: ['*']}) AS projected } "
    "RETURN ties"
)

#: drop the run's scratch relationships
CLEANUP = ("MATCH ()-[x:RINGMAP_TMP_OWNS|RINGMAP_TMP_HOLDS]->() WHERE x.run = $run "
           f"CALL (x) {{ DELETE x }} {_BATCH}")


@dataclass
class ComputedTies:
    """What the database computed: the agents, their ties (in the GDS graph ``graph``) and
    the identifiers above the infrastructure threshold."""

    graph: str
    units: list[str]
    """Agent node ids, index = vertex id (the Python projection's order)."""
    ties: list[tuple[int, int, float]]
    """``(v, w, weight)`` with ``v < w``, sorted."""
    infrastructure: dict[str, int]


def file_reliability(store: Store) -> dict[str, float]:
    """File seq (as text) -> reliability of its source grading, where grading applies (the
    case's files carry more than one grading; see
    :func:`~ringmap.analysis.cells.edge_reliability`)."""
    if len({load.grading for load in store.file_loads()}) <= 1:
        return {}
    return {str(r["seq"]): FileLoad.model_validate_json(r["record"]).grading.reliability()
            for r in store.query(FILE_GRADINGS)}


@contextmanager
def computed_ties(store: Store, settings: ProjectionSettings) -> Iterator[ComputedTies]:
    """The agent ties of the case in ``store`` computed in its database by the rules of
    ``settings`` and projected into a GDS graph, which is dropped on leaving; the run's
    scratch relationships are deleted before this yields (and on failure)."""
    run = uuid.uuid4().hex
    graph = f"ringmap-{run}"
    reliability = file_reliability(store) if settings.use_grading else {}
    params: dict[str, Any] = {
        "run": run, "graph": graph, "graded": bool(reliability), "reliability": reliability,
        "indirect": settings.indirect_factor, "weights": settings.weights,
        "hub": settings.hub_weighting, "max_agents": settings.infra_max_agents}
    projected = False
    try:
        try:
            for statement in STAGES:
                store.write(statement, params)
            units = [str(r["id"]) for r in store.query(UNITS, params)]
            params["share_cap"] = (None if settings.infra_max_share is None
                                   else settings.infra_max_share * len(units))
            infrastructure = {str(r["id"]): int(r["k"])
                              for r in store.query(INFRASTRUCTURE, params)}
            rows = store.query(TIES, params)
            projected = bool(rows)
        finally:
            store.write(CLEANUP, {"run": run})
        ties = sorted((int(a), int(b), float(w)) for a, b, w in rows[0]["ties"]) if rows else []
        yield ComputedTies(graph, units, ties, infrastructure)
    finally:
        if projected:
            store.query("CALL gds.graph.drop($graph, false) YIELD graphName RETURN graphName",
                        {"graph": graph})


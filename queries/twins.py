"""The embedded store's twin of each named query: SQL on the case file's tables.

Each twin returns the same columns, in the same order, as its ``.cypher`` file does on Neo4j;
both sort explicitly, with ties broken by node id. Parameters arrive as SQLite named parameters
(``:device``), never formatted into the text. The tables are those of
:mod:`ringmap.graphs.embedded`: ``nodes(nid, id, type, props)``, ``edges(eid, type, src, dst,
props)`` with ``src``/``dst`` = ``nodes.nid``, and ``memberships(run_id, cell_id, node_id,
confidence)``. Joins are ``CROSS JOIN`` so that SQLite keeps the written order (from the bound
entity outwards), and a lookup by ``dst`` writes ``+e.type`` so that the planner uses the
``dst`` index rather than scanning every edge of the type. Fragments shared by several twins are
written once, as ``{name}`` placeholders filled from :data:`_FRAGMENTS` (constants only) when
the module loads.
"""

from __future__ import annotations

import re

__all__ = ["TWINS"]

_PLACEHOLDER = re.compile(r"\{(?P<name>[a-z_]+)(?::(?P<arg>[a-z_]+))?\}")

_FRAGMENTS: dict[str, str] = {
    # The entity type of a node, read off its id as the Cypher does: split(id, ':')[0].
    "kind": "substr({n}.id, 1, instr({n}.id, ':') - 1)",
    "use_links": "'USES', 'HOLDS', 'REGISTERED_TO', 'LOGGED_IN_FROM', 'LOGGED_IN_ON', 'SIM_IN', "
                 "'HAS_NUMBER'",
    "identifiers": "'Account', 'Phone', 'SimCard', 'Device', 'Email', 'IPAddress', "
                   "'PaymentCard', 'FinancialAccount', 'IdDocument'",
    "seen": "json_extract(r.props, '$.first_seen'), json_extract(r.props, '$.last_seen')",
    # A victim's country: its LOCATED_IN country, else its nationality.
    "located": """LEFT JOIN edges l ON l.src = v.nid AND l.type = 'LOCATED_IN'
    LEFT JOIN nodes k ON k.nid = l.dst AND k.type = 'Country'""",
    # (a Country's id is "Country:" and its code, so the code is read off the id)
    "country": "COALESCE(substr(k.id, 9), json_extract(v.props, '$.nationality'), '??')",
    # A cell's side: its members, the accounts and numbers its member people use, the people
    # who use its member accounts (the Cypher's OPTIONAL MATCH (m)-[:USES]-(o)).
    "side": """side AS (
    SELECT cell_id, nid FROM members
    UNION SELECT m.cell_id, o.nid FROM members m
        CROSS JOIN edges e ON e.src = m.nid AND e.type = 'USES'
        CROSS JOIN nodes o ON o.nid = e.dst
        WHERE m.type = 'Person' AND o.type IN ('Account', 'Phone')
    UNION SELECT m.cell_id, o.nid FROM members m
        CROSS JOIN edges e ON e.dst = m.nid AND +e.type = 'USES'
        CROSS JOIN nodes o ON o.nid = e.src
        WHERE m.type = 'Account' AND o.type = 'Person')""",
    # The side of every cell of the run.
    "run_side": """members AS (
    SELECT m.cell_id, n.nid, n.type FROM memberships m CROSS JOIN nodes n ON n.id = m.node_id
    WHERE m.run_id = :run),
{side}""",
    # Victims each cell contacted: side -CONTACTED- (Account|Phone) <-USES- victim (the
    # schema lets CONTACTED join accounts and phones only, so their type goes unchecked).
    "contacts": """contacted AS (
    SELECT s.cell_id, e.dst AS other FROM side s
        CROSS JOIN edges e ON e.src = s.nid AND e.type = 'CONTACTED'
    UNION SELECT s.cell_id, e.src FROM side s
        CROSS JOIN edges e ON e.dst = s.nid AND +e.type = 'CONTACTED'),
victims AS (
    SELECT DISTINCT c.cell_id, v.nid FROM contacted c
        CROSS JOIN edges u ON u.dst = c.other AND +u.type = 'USES'
        CROSS JOIN nodes v ON v.nid = u.src AND v.type = 'Person'
    WHERE json_extract(v.props, '$.role') = 'victim')""",
    # The cell each card or wallet goes to (ringmap.analysis.victims): the cell with most
    # claims on it (side persons holding it, contacted victims paying into it; ties: the first
    # cell id), over every cell of the run ({side} and {contacts} of the whole run).
    "owners": """claims AS (
    SELECT s.cell_id, e.dst AS card, s.nid AS who FROM side s
        CROSS JOIN nodes p ON p.nid = s.nid AND p.type = 'Person'
        CROSS JOIN edges e ON e.src = s.nid AND e.type = 'HOLDS'
        CROSS JOIN nodes k ON k.nid = e.dst AND k.type IN ('PaymentCard', 'FinancialAccount')
    UNION SELECT v.cell_id, t.dst, v.nid FROM victims v
        CROSS JOIN edges p ON p.src = v.nid AND p.type = 'PAID'
        CROSS JOIN edges t ON t.src = p.dst AND t.type = 'PAID_TO'
        CROSS JOIN nodes k ON k.nid = t.dst AND k.type IN ('PaymentCard', 'FinancialAccount')),
owners AS (
    SELECT card, cell_id FROM (
        SELECT card, cell_id, ROW_NUMBER() OVER (
            PARTITION BY card ORDER BY COUNT(*) DESC, cell_id) AS place
        FROM claims GROUP BY card, cell_id)
    WHERE place = 1)""",
    # What each node of the CTE {n} (a nid column) is tied to, in either direction.
    "around": """SELECT t.nid AS start, e.dst AS x FROM {n} t CROSS JOIN edges e ON e.src = t.nid
    UNION SELECT t.nid, e.src FROM {n} t CROSS JOIN edges e ON e.dst = t.nid""",
}

_TEMPLATES: dict[str, str] = {
    "accounts-on-device": """
SELECT a.id AS account, {seen}, json_extract(r.props, '$.count')
FROM nodes d CROSS JOIN edges r ON r.dst = d.nid AND +r.type = 'LOGGED_IN_ON'
CROSS JOIN nodes a ON a.nid = r.src AND a.type = 'Account'
WHERE d.id = :device AND d.type = 'Device'
ORDER BY account LIMIT :limit""",
    "devices-of-account": """
SELECT d.id AS device, json_extract(d.props, '$.kind'), json_extract(d.props, '$.make'),
       json_extract(d.props, '$.model'), {seen}, json_extract(r.props, '$.count')
FROM nodes a CROSS JOIN edges r ON r.src = a.nid AND r.type = 'LOGGED_IN_ON'
CROSS JOIN nodes d ON d.nid = r.dst AND d.type = 'Device'
WHERE a.id = :account AND a.type = 'Account'
ORDER BY device LIMIT :limit""",
    "who-used-identifier": """
SELECT u.id AS user, {kind:u}, json_extract(u.props, '$.role'), r.type AS link, {seen}
FROM nodes x CROSS JOIN edges r ON r.dst = x.nid AND +r.type IN ({use_links})
CROSS JOIN nodes u ON u.nid = r.src
WHERE x.id = :identifier AND x.type IN ({identifiers})
ORDER BY link, user LIMIT :limit""",
    "shared-identifiers": """
WITH ends AS (
    SELECT 'a' AS side, n.nid, o.nid AS other FROM nodes n CROSS JOIN nodes o
    WHERE n.id = :a AND o.id = :b AND n.nid != o.nid
    UNION ALL SELECT 'b', o.nid, n.nid FROM nodes n CROSS JOIN nodes o
    WHERE n.id = :a AND o.id = :b AND n.nid != o.nid),
near AS (SELECT s.side, s.other, r.x FROM ({around:ends}) r CROSS JOIN ends s ON s.nid = r.start
         WHERE r.x != s.other),
mids AS (SELECT n.nid FROM near r CROSS JOIN nodes n ON n.nid = r.x
         WHERE n.type IN ('Account', 'Person')),
reach AS (
    SELECT side, x, 1 AS hops, NULL AS via FROM near
    UNION SELECT r.side, f.x, 2, m.id FROM near r
        CROSS JOIN nodes m ON m.nid = r.x AND m.type IN ('Account', 'Person')
        CROSS JOIN ({around:mids}) f ON f.start = m.nid),
sides AS (
    SELECT side, x, MIN(hops) AS hops, CASE WHEN MIN(hops) = 1 THEN NULL ELSE MIN(via) END AS via
    FROM reach WHERE x NOT IN (SELECT nid FROM ends)
    GROUP BY side, x)
SELECT x.id AS identifier, {kind:x}, sa.hops AS hops_a, sa.via, sb.hops AS hops_b, sb.via,
       (SELECT COUNT(*) FROM (
            SELECT e.src FROM edges e WHERE e.dst = x.nid
            UNION SELECT e.dst FROM edges e WHERE e.src = x.nid AND e.type != 'CONTACTED'))
           AS ties
FROM sides sa CROSS JOIN sides sb ON sb.x = sa.x AND sb.side = 'b'
CROSS JOIN nodes x ON x.nid = sa.x AND x.type IN ({identifiers}, 'Location')
WHERE sa.side = 'a'
ORDER BY hops_a + hops_b, ties, identifier LIMIT :limit""",
    "contacts-of-account": """
WITH a AS (SELECT nid FROM nodes WHERE id = :account AND type IN ('Account', 'Phone')),
contacts AS (
    SELECT r.dst AS other, 'out' AS direction, r.props FROM a
        CROSS JOIN edges r ON r.src = a.nid AND r.type = 'CONTACTED' WHERE r.dst != a.nid
    UNION ALL SELECT r.src, 'in', r.props FROM a
        CROSS JOIN edges r ON r.dst = a.nid AND +r.type = 'CONTACTED' WHERE r.src != a.nid)
SELECT c.id AS contact, r.direction, json_extract(r.props, '$.channel'), {seen},
       json_extract(r.props, '$.count')
FROM contacts r CROSS JOIN nodes c ON c.nid = r.other
ORDER BY contact, r.direction LIMIT :limit""",
    "agents-at-site": """
SELECT p.id AS person, json_extract(p.props, '$.role'), r.type AS link,
       (SELECT COUNT(DISTINCT u.dst) FROM edges u CROSS JOIN nodes a ON a.nid = u.dst
        WHERE u.src = p.nid AND u.type = 'USES' AND a.type = 'Account') AS accounts
FROM nodes l CROSS JOIN edges r ON r.dst = l.nid AND +r.type IN ('WORKS_AT', 'ARRESTED_AT')
CROSS JOIN nodes p ON p.nid = r.src AND p.type = 'Person'
WHERE l.id = :site AND l.type = 'Location'
ORDER BY person, link LIMIT :limit""",
    "reports-for-account": """
SELECT v.id AS report, json_extract(v.props, '$.source'), json_extract(v.props, '$.kind'),
       json_extract(v.props, '$.received') AS received, json_extract(v.props, '$.agency'),
       json_extract(n.props, '$.role'), json_extract(k.props, '$.code') AS country
FROM nodes a CROSS JOIN edges n ON n.dst = a.nid AND +n.type = 'NAMES'
CROSS JOIN nodes v ON v.nid = n.src AND v.type = 'Report'
{located}
WHERE a.id = :account AND a.type = 'Account'
ORDER BY received IS NULL, received, report, COALESCE(country, '') LIMIT :limit""",
    "cell-members": """
SELECT n.id AS member, {kind:n}, json_extract(n.props, '$.role'), m.confidence AS confidence
FROM memberships m CROSS JOIN nodes n ON n.id = m.node_id
WHERE m.run_id = :run AND m.cell_id = :cell
ORDER BY confidence DESC, member LIMIT :limit""",
    # A cell's victims as ringmap.analysis.victims defines them: the victims it contacted, and
    # those who paid into its cards and wallets; a card goes to the cell with most claims on it
    # (side persons holding it, contacted victims paying into it; ties: the first cell id), so
    # every cell of the run is counted before :cell is applied.
    "victims-by-country": """
WITH {run_side},
{contacts},
{owners},
found AS (
    SELECT cell_id, nid FROM victims
    UNION SELECT o.cell_id, v.nid FROM owners o
        CROSS JOIN edges t ON t.dst = o.card AND +t.type = 'PAID_TO'
        CROSS JOIN edges p ON p.dst = t.src AND +p.type = 'PAID'
        CROSS JOIN nodes v ON v.nid = p.src AND v.type = 'Person'
    WHERE json_extract(v.props, '$.role') = 'victim')
SELECT w.cell_id AS cell, {country} AS country, COUNT(DISTINCT v.nid) AS victims
FROM found w CROSS JOIN nodes v ON v.nid = w.nid {located}
WHERE (:cell IS NULL OR w.cell_id = :cell) AND (:country IS NULL OR {country} = :country)
GROUP BY cell, country
ORDER BY cell, victims DESC, country LIMIT :limit""",
    "money-by-cell": """
WITH {run_side},
{contacts},
{owners},
paid AS (
    SELECT DISTINCT o.cell_id, t.src AS pid FROM owners o
        CROSS JOIN edges t ON t.dst = o.card AND +t.type = 'PAID_TO'
        CROSS JOIN nodes p ON p.nid = t.src AND p.type = 'Payment'
    WHERE :cell IS NULL OR o.cell_id = :cell),
per_currency AS (
    SELECT w.cell_id, COALESCE(json_extract(p.props, '$.currency'), '??') AS currency, p.nid,
           json_extract(p.props, '$.amount') AS amount
    FROM paid w CROSS JOIN nodes p ON p.nid = w.pid)
SELECT c.cell_id AS cell, c.currency, COUNT(*) AS payments,
       (SELECT COUNT(DISTINCT v.nid) FROM per_currency x
            CROSS JOIN edges e ON e.dst = x.nid AND +e.type = 'PAID'
            CROSS JOIN nodes v ON v.nid = e.src AND v.type = 'Person'
        WHERE x.cell_id = c.cell_id AND x.currency = c.currency) AS payers,
       SUM(c.amount)
FROM per_currency c
GROUP BY cell, c.currency
ORDER BY cell, c.currency LIMIT :limit""",
    "money-trail": """
WITH instrument AS (
    SELECT nid FROM nodes
    WHERE id = :instrument AND type IN ('PaymentCard', 'FinancialAccount')),
trail AS (
    SELECT 'in' AS direction, p.nid AS pid, v.id AS counterparty,
           COALESCE(json_extract(k.props, '$.code'), json_extract(v.props, '$.nationality'))
               AS country
    FROM instrument i CROSS JOIN edges t ON t.dst = i.nid AND +t.type = 'PAID_TO'
    CROSS JOIN nodes p ON p.nid = t.src AND p.type = 'Payment'
    LEFT JOIN edges e ON e.dst = p.nid AND +e.type = 'PAID'
    LEFT JOIN nodes v ON v.nid = e.src AND v.type = 'Person'
    {located}
    UNION ALL
    SELECT 'out', p.nid, o.id, NULL
    FROM instrument i CROSS JOIN edges f ON f.dst = i.nid AND +f.type = 'PAID_FROM'
    CROSS JOIN nodes p ON p.nid = f.src AND p.type = 'Payment'
    LEFT JOIN edges e ON e.src = p.nid AND e.type = 'PAID_TO'
    LEFT JOIN nodes o ON o.nid = e.dst)
SELECT t.direction, p.id AS payment, json_extract(p.props, '$.time') AS time,
       json_extract(p.props, '$.amount'), json_extract(p.props, '$.currency'),
       json_extract(p.props, '$.channel'), t.counterparty, t.country
FROM trail t CROSS JOIN nodes p ON p.nid = t.pid
ORDER BY time IS NULL, time, payment, t.direction, COALESCE(t.counterparty, ''),
         COALESCE(t.country, '') LIMIT :limit""",
    "top-brokers": """
WITH {run_side},
touches AS (
    SELECT s.cell_id, s.nid AS agent, e.dst AS other FROM side s
        CROSS JOIN edges e ON e.src = s.nid
        WHERE e.type IN ({use_links}, 'CONTACTED', 'WORKS_AT', 'ARRESTED_AT', 'SEIZED_FROM',
                         'NAMES')
    UNION ALL SELECT s.cell_id, s.nid, e.src FROM side s
        CROSS JOIN edges e ON e.dst = s.nid
        WHERE +e.type IN ({use_links}, 'CONTACTED', 'WORKS_AT', 'ARRESTED_AT', 'SEIZED_FROM',
                         'NAMES'))
SELECT x.id AS broker, {kind:x}, COUNT(DISTINCT t.cell_id) AS cells,
       COUNT(DISTINCT t.agent) AS agents
FROM touches t CROSS JOIN nodes x ON x.nid = t.other
WHERE x.id NOT IN (SELECT value FROM json_each(:infrastructure))
  AND x.id NOT IN (SELECT node_id FROM memberships WHERE run_id = :run)
GROUP BY x.nid
HAVING cells >= 2
ORDER BY cells DESC, agents DESC, broker LIMIT :limit""",
    "cross-border-summary": """
WITH victims AS (
    SELECT v.nid, {country} AS country
    FROM nodes v {located}
    WHERE v.type = 'Person' AND json_extract(v.props, '$.role') = 'victim'),
per_country AS (
    SELECT v.country, COUNT(DISTINCT v.nid) AS victims, COUNT(DISTINCT p.nid) AS payments,
           COUNT(DISTINCT CASE WHEN p.nid IS NULL THEN NULL ELSE v.nid END) AS paying_victims
    FROM victims v
    LEFT JOIN edges e ON e.src = v.nid AND e.type = 'PAID'
    LEFT JOIN nodes p ON p.nid = e.dst AND p.type = 'Payment'
    GROUP BY v.country),
reports AS (
    SELECT substr(k.id, 9) AS country, COUNT(DISTINCT r.nid) AS reports
    FROM nodes r CROSS JOIN edges l ON l.src = r.nid AND l.type = 'LOCATED_IN'
    CROSS JOIN nodes k ON k.nid = l.dst AND k.type = 'Country'
    WHERE r.type = 'Report'
    GROUP BY k.nid)
SELECT c.country, c.victims, c.paying_victims, c.payments, COALESCE(r.reports, 0)
FROM per_country c LEFT JOIN reports r ON r.country = c.country
ORDER BY c.victims DESC, c.country LIMIT :limit""",
}


def _fill(match: re.Match[str]) -> str:
    fragment = _FRAGMENTS.get(match["name"])
    if fragment is None:
        raise AssertionError(f"unknown placeholder in twin SQL: {match[0]}")
    return fragment if match["arg"] is None else fragment.replace("{n}", match["arg"])


def _expand(template: str) -> str:
    """Fill ``{name}`` and ``{name:arg}`` placeholders (the arg fills the fragment's own
    ``{n}``) until none is left."""
    text = template
    while (filled := _PLACEHOLDER.sub(_fill, text)) != text:
        text = filled
    return text


#: The SQL twin of each named query, by name.
TWINS: dict[str, str] = {name: _expand(sql) for name, sql in _TEMPLATES.items()}

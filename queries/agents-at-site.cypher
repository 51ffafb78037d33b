// @name agents-at-site
// @description People who worked or were arrested at a site, with how many accounts each used.
// @param site: node(Location)
// @param limit: int = 500
// @column person: party
// @column role: str
// @column link: str
// @column accounts: int
MATCH (p:Person)-[r:WORKS_AT|ARRESTED_AT]->(:Location {id: $site})
OPTIONAL MATCH (p)-[:USES]->(a:Account)
RETURN p.id AS person, p.role AS role, type(r) AS link, count(DISTINCT a) AS accounts
ORDER BY person, link
LIMIT $limit

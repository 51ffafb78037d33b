// @name cross-border-summary
// @description Victims per country across the case: how many, how many paid, how many payments, how many reports came from there.
// @param limit: int = 300
// @column country: str
// @column victims: int
// @column paying_victims: int
// @column payments: int
// @column reports: int
MATCH (v:Person {role: 'victim'})
OPTIONAL MATCH (v)-[:LOCATED_IN]->(k:Country)
WITH v, coalesce(k.code, v.nationality, '??') AS country
OPTIONAL MATCH (v)-[:PAID]->(p:Payment)
WITH country, count(DISTINCT v) AS victims, count(DISTINCT p) AS payments,
     count(DISTINCT CASE WHEN p IS NULL THEN null ELSE v END) AS paying_victims
OPTIONAL MATCH (r:Report)-[:LOCATED_IN]->(:Country {code: country})
RETURN country, victims, paying_victims, payments, count(DISTINCT r) AS reports
ORDER BY victims DESC, country
LIMIT $limit

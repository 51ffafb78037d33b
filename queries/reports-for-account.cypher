// @name reports-for-account
// @description Reports (NCMEC CyberTipline, platform, police) that name an account, oldest first.
// @param account: node(Account)
// @param limit: int = 100
// @column report: node
// @column source: str
// @column kind: str
// @column received: datetime
// @column agency: str
// @column named_as: str
// @column country: str
MATCH (r:Report)-[n:NAMES]->(:Account {id: $account})
OPTIONAL MATCH (r)-[:LOCATED_IN]->(k:Country)
RETURN r.id AS report, r.source AS source, r.kind AS kind, r.received AS received,
       r.agency AS agency, n.role AS named_as, k.code AS country
ORDER BY received IS NULL, received, report, coalesce(country, '')
LIMIT $limit

// @name cell-members
// @description Members of one cell of a cell-detection run, most confident first.
// @param cell: cell
// @param run: run
// @param limit: int = 1000
// @column member: party
// @column type: str
// @column role: str
// @column confidence: float
MATCH (m)-[r:MEMBER_OF]->(:Cell {run_id: $run, cell_id: $cell})
RETURN m.id AS member, split(m.id, ':')[0] AS type, m.role AS role, r.confidence AS confidence
ORDER BY confidence DESC, member
LIMIT $limit

// Scenario overview: items, active users and interactions of every scenario.
MATCH (s:Scenario)
OPTIONAL CALL (s) {
  MATCH (i:Item)-[:IN_SCENARIO]->(s)
  RETURN count(i) AS items
}
OPTIONAL CALL (s) {
  MATCH (u:User)-[x:INTERACTED]->(:Item)-[:IN_SCENARIO]->(s)
  RETURN count(x) AS interactions, count(DISTINCT u) AS users
}
RETURN s.name AS scenario, items, users, interactions
ORDER BY scenario

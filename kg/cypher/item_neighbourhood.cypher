// An item's neighbourhood: its relationships grouped by type, with counts and a sample.
// @param item str
// @param limit int 5 1..10000
MATCH (i:Item {item_id: $item})-[r]-(n)
WITH type(r) AS relation, labels(n)[0] AS label,
     collect(coalesce(n.item_id, n.user_id, n.name, n.key)) AS nodes
RETURN relation, label, size(nodes) AS count, nodes[0..$limit] AS sample
ORDER BY relation, label

// Items of a scenario most similar to an item (of any scenario) by learned embedding, through
// the vector index written by `graphrec export RUN_DIR --to neo4j`. The score is the cosine, in
// [-1, 1], as Recommender.similar_items reports it (the index itself returns (1 + cos) / 2).
// @param item str
// @param scenario str
// @param k int 10 1..10000
// @param candidates int 200 1..100000
MATCH (q:Item {item_id: $item})
CALL db.index.vector.queryNodes('graphrec_item_embedding', $candidates, q.embedding)
YIELD node, score
WHERE node.scenario = $scenario AND node <> q
RETURN node.item_id AS item, round(2 * score - 1, 4) AS score
ORDER BY score DESC, item
LIMIT $k

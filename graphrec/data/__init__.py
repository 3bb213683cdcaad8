"""From the knowledge graph's tables to what training needs: the PyG graph and its id maps,
re-splits of a target scenario, training pairs and the roles of scenarios."""

from graphrec.data.graph import GraphIndex, build_graph
from graphrec.data.pairs import known_users, scenarios_of, sources_of, training_pairs
from graphrec.data.splits import apply_split, k_shot, leave_one_out, subsample_training

__all__ = ["GraphIndex", "apply_split", "build_graph", "k_shot", "known_users",
           "leave_one_out", "scenarios_of", "sources_of", "subsample_training",
           "training_pairs"]

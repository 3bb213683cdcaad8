"""Evaluation: the harness (protocols, subsets, bootstrap intervals), ranking metrics and the
training-free baseline scorers."""

from graphrec.evaluation.harness import (
    DEFAULT_SUBSETS,
    SUBSETS,
    EmbeddingScorer,
    Protocol,
    Scorer,
    compare,
    evaluate,
    without_values,
)

__all__ = ["DEFAULT_SUBSETS", "SUBSETS", "EmbeddingScorer", "Protocol", "Scorer", "compare",
           "evaluate", "without_values"]

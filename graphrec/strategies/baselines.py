"""Training-free baselines as strategies: ``popularity``, ``attribute-popularity``,
``item-knn`` and ``attribute-knn`` (scorers in :mod:`graphrec.evaluation.baselines`), fitted on
the training interactions of every scenario and scored in the same harness."""

from __future__ import annotations

import time

from graphrec.evaluation.baselines import build_baseline
from graphrec.evaluation.harness import evaluate
from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun


class Baseline(Strategy):
    """A training-free scorer; ``name`` is the baseline's registered name."""

    learned = False

    def run(self, run: StrategyRun) -> StrategyResult:
        data, index = run.graph(co_interactions=0)
        scorer = build_baseline(self.name, run.tables, index)
        k = run.config.k
        test = evaluate(scorer, index, run.tables, run.target, "test", (k,),
                        protocol=run.protocol)
        valid = evaluate(scorer, index, run.tables, run.target, "valid", (k,), ("all",),
                         run.protocol)
        return StrategyResult(self.name, test, valid["all"][f"ndcg@{k}"] if valid else 0.0,
                              seconds=time.perf_counter() - run.started, index=index,
                              scorer=scorer)


class Popularity(Baseline):
    """Items ranked by their training interactions."""

    name = "popularity"


class AttributePopularity(Baseline):
    """Items ranked by the mean training frequency of their attributes."""

    name = "attribute-popularity"


class ItemKNN(Baseline):
    """Item-kNN over the items' user columns: a user's items vote for similar items."""

    name = "item-knn"


class AttributeKNN(Baseline):
    """Item-kNN over the items' attribute vectors (a content profile)."""

    name = "attribute-knn"

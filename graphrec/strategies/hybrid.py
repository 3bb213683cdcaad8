"""``hybrid``: the joint graph model blended with item-kNN, the blend weight chosen on the
target's validation split. Reported apart from the graph model alone: it is the best *served*
model, not a claim about the graph model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from graphrec.errors import ConfigError
from graphrec.evaluation.baselines import build_baseline
from graphrec.evaluation.blend import BlendedScorer, score_scale
from graphrec.evaluation.harness import EmbeddingScorer, evaluate
from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun
from kg.registry import Settings


@dataclass(frozen=True)
class HybridConfig(Settings):
    """``[strategy.hybrid]``: the item-kNN weights tried on validation."""

    what = "hybrid strategy"

    weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

    def __post_init__(self):
        if not self.weights:
            raise ConfigError("[strategy.hybrid] weights must name at least one weight")
        for w in self.weights:
            if not 0.0 <= w <= 1.0:
                raise ConfigError(f"blend weight must be in [0, 1], not {w}")


class Hybrid(Strategy):
    """Train the graph model as ``joint`` does, then pick the item-kNN weight of the blend
    (:class:`~graphrec.evaluation.blend.BlendedScorer`) that validates best (NDCG@k, full
    ranking of the target's valid split; the smaller weight on a tie)."""

    name = "hybrid"
    settings_type = HybridConfig

    def run(self, run: StrategyRun) -> StrategyResult:
        trained = run.train(None, run.scenarios, name=self.name)
        emb = trained.embeddings
        model = EmbeddingScorer(emb["user"], emb["item"])
        knn = build_baseline("item-knn", run.tables, trained.index)
        inter = run.tables.interactions
        valid = inter[(inter["scenario"] == run.target) & (inter["split"] == "valid")]
        users = torch.as_tensor(np.unique(trained.index.index("user", valid["user_id"])))
        items = torch.as_tensor(trained.index.scenario_items(run.target))
        scales = (score_scale(model, users, items), score_scale(knn, users, items))
        k = run.config.k
        tried = {}
        for weight in sorted(set(self.settings.weights)):
            blend = BlendedScorer(model, knn, weight, *scales)
            res = evaluate(blend, trained.index, run.tables, run.target, "valid", (k,),
                           ("all",), run.protocol)
            tried[weight] = res["all"][f"ndcg@{k}"] if res else 0.0
        best = max(tried, key=lambda w: (tried[w], -w))
        scorer = BlendedScorer(model, knn, best, *scales)
        return run.finish(self.name, trained, scorer=scorer, valid_score=tried[best],
                          blend=scorer.to_dict(),
                          decision={"blend_weight": best, "valid_ndcg_by_weight": {
                              str(w): s for w, s in tried.items()}})

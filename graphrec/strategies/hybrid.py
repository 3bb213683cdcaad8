"""``hybrid``: a graph model (the ``joint`` embedding model, or the conditional GNN
``path-gnn`` with ``[strategy.hybrid] model = "path-gnn"``) blended with a neighbourhood
baseline (item-kNN, EASE or attribute-kNN; or, named, content-popularity), the blend weight
chosen on the target's validation split. Reported apart from the graph model alone: it is the
best *served* model, not a claim about the graph model."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from graphrec.data.graph import GraphIndex
from graphrec.errors import ConfigError
from graphrec.evaluation.baselines import TooManyItems
from graphrec.evaluation.blend import BlendedScorer, MemoScorer, score_scale
from graphrec.evaluation.harness import EmbeddingScorer, evaluate
from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun
from graphrec.strategies.baselines import (
    EASE_L2,
    EASEConfig,
    fit_for_run,
)
from graphrec.strategies.path_gnn import PathGNNConfig, PathGNNStrategy, train_path_gnn
from kg.registry import Settings

logger = logging.getLogger(__name__)

#: the baselines a hybrid can blend the graph model with (attribute-kNN and content-popularity:
#: those with evidence on items without interactions, which item-kNN and EASE cannot score)
BLEND_BASELINES = ("item-knn", "ease", "attribute-knn", "content-popularity")
#: those ``baseline = "auto"`` tries
AUTO_BASELINES = ("item-knn", "ease", "attribute-knn")
#: the graph models a hybrid can blend
HYBRID_MODELS = ("joint", "path-gnn")


@dataclass(frozen=True)
class HybridConfig(Settings):
    """``[strategy.hybrid]``: the baseline blended in (``auto``: item-kNN, EASE and
    attribute-kNN each tried, the best blend on validation kept; ``content-popularity`` only
    when named), the blend weights tried on validation, and EASE's ridge weights (``l2``,
    chosen on validation first) when EASE is tried. ``auto`` leaves EASE out where more
    items have interactions than ``[strategy.ease] max_items`` (which a named ``ease``
    refuses)."""

    what = "hybrid strategy"

    weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    baseline: str = "auto"
    l2: tuple[float, ...] = EASE_L2
    #: the graph model blended: ``joint`` (the embedding model, as the ``joint`` strategy
    #: trains it) or ``path-gnn`` (the conditional GNN, with ``[strategy.path-gnn]``)
    model: str = "joint"

    def __post_init__(self):
        if not self.weights:
            raise ConfigError("[strategy.hybrid] weights must name at least one weight")
        for w in self.weights:
            if not 0.0 <= w <= 1.0:
                raise ConfigError(f"blend weight must be in [0, 1], not {w}")
        if self.baseline not in ("auto", *BLEND_BASELINES):
            raise ConfigError(f"[strategy.hybrid] baseline must be one of "
                              f"{['auto', *BLEND_BASELINES]}, not {self.baseline!r}")
        EASEConfig(l2=self.l2)  # the same checks as [strategy.ease]
        if self.model not in HYBRID_MODELS:
            raise ConfigError(f"[strategy.hybrid] model must be one of {list(HYBRID_MODELS)}, "
                              f"not {self.model!r}")

    @property
    def baselines(self) -> tuple[str, ...]:
        """The baselines tried, in order (the first wins a tie)."""
        return AUTO_BASELINES if self.baseline == "auto" else (self.baseline,)


class Hybrid(Strategy):
    """Train the graph model as ``joint`` (or ``path-gnn``) does, fit each baseline tried
    (EASE's ``l2`` chosen on validation), then keep the baseline and its weight in the blend
    (:class:`~graphrec.evaluation.blend.BlendedScorer`) that validate best (NDCG@k, full
    ranking of the target's valid split; on a tie the smaller weight, then the baseline tried
    first)."""

    name = "hybrid"
    settings_type = HybridConfig

    def run(self, run: StrategyRun) -> StrategyResult:
        if self.settings.model == "path-gnn":
            settings = run.settings.get(PathGNNStrategy.name) or PathGNNConfig()
            path = train_path_gnn(run, settings, self.name)
            scorer, score, blend, decision = self._blend(run, MemoScorer(path.scorer),
                                                         path.index)
            scorer.model = path.scorer  # served as trained, without the memo
            return path.finish(self.name, run, scorer, score, {**decision, "model": "path-gnn"},
                               blend=blend)
        trained = run.train(None, run.scenarios, name=self.name)
        emb = trained.embeddings
        scorer, score, blend, decision = self._blend(
            run, EmbeddingScorer(emb["user"], emb["item"]), trained.index)
        return run.finish(self.name, trained, scorer=scorer, valid_score=score, blend=blend,
                          decision=decision)

    def _blend(self, run: StrategyRun, model, index: GraphIndex
               ) -> tuple[BlendedScorer, float, dict, dict]:
        """The blend of ``model`` (a scorer) with each baseline tried that validates best:
        ``(scorer, its validation NDCG@k, model.json's blend, decision.json)``."""
        inter = run.tables.interactions
        valid = inter[(inter["scenario"] == run.target) & (inter["split"] == "valid")]
        users = torch.as_tensor(np.unique(index.index("user", valid["user_id"])))
        items = torch.as_tensor(index.scenario_items(run.target))
        model_scale = score_scale(model, users, items)
        k = run.config.k
        chosen, by_baseline, decision = None, {}, {}
        limit = (run.settings.get("ease") or EASEConfig()).max_items
        for name in self.settings.baselines:
            try:
                knn, settings, fitted, fitted_by = fit_for_run(
                    run, name, index,
                    EASEConfig(l2=self.settings.l2, max_items=limit) if name == "ease"
                    else run.settings.get(name), self.name)
            except TooManyItems as refused:  # its dense inversion: out of memory or of time
                if self.settings.baseline != "auto":
                    raise
                why = (f"{refused.items} items with interactions exceed [strategy.ease] "
                       f"max_items = {refused.max_items}")
                logger.warning("%s: EASE not tried: %s", self.name, why)
                decision.setdefault("not_tried", {})[name] = why
                continue
            if fitted_by != self.name:  # this run's seconds leave that fit out
                decision.setdefault("baselines_fitted_by", {})[name] = fitted_by
            if name == "ease":
                decision.update(fitted)
            elif name in ("attribute-knn", "content-popularity"):
                decision[name.replace("-", "_")] = fitted
            knn_scale = score_scale(knn, users, items)
            tried = {}
            for weight in sorted(set(self.settings.weights)):
                blend = BlendedScorer(model, knn, weight, model_scale, knn_scale)
                res = evaluate(blend, index, run.tables, run.target, "valid", (k,),
                               ("all",), run.protocol)
                tried[weight] = res["all"][f"ndcg@{k}"] if res else 0.0
            best = max(tried, key=lambda w: (tried[w], -w))
            by_baseline[name] = {"valid_ndcg": tried[best], "blend_weight": best,
                                 "valid_ndcg_by_weight": {str(w): v for w, v in tried.items()}}
            if chosen is None or tried[best] > chosen[0]:
                chosen = (tried[best], name, settings,
                          BlendedScorer(model, knn, best, model_scale, knn_scale))
        score, name, settings, scorer = chosen
        decision = {"baseline": name, "blend_weight": scorer.weight,
                    "valid_ndcg_by_weight": by_baseline[name]["valid_ndcg_by_weight"],
                    "valid_ndcg_by_baseline": {b: v["valid_ndcg"]
                                               for b, v in by_baseline.items()},
                    **decision}
        return (scorer, score, {**scorer.to_dict(), "baseline": name,
                                "baseline_settings": settings}, decision)

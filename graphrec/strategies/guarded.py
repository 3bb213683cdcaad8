"""Negative-transfer guard: measure what each source scenario does to the target, on valid.

A source can hurt the target (negative transfer): its users' behaviour contradicts the
target's, and through shared users, attributes or product links it pulls the target's
embeddings the wrong way. The guard decides from validation evidence alone (never the test
split) which sources to keep:

1. train ``target-only`` and ``joint`` over all sources; both validation scores are kept;
2. for every source ``s``, train ``joint`` without ``s`` (leave-one-source-out). Its
   contribution is ``valid(all) - valid(all but s)``:

   - contribution < ``-tolerance``: the source hurts and is **dropped** (out of the graph and
     out of the loss);
   - ``|contribution| <= tolerance``: no measurable effect; it stays in the graph but its pairs
     are **down-weighted** (``neutral_weight``);
   - contribution > ``tolerance``: it helps and is **kept** at weight 1;

3. train ``joint`` over the target and the kept sources with those weights; the final model is
   whichever of {this model, joint over all sources, target-only} scores best on valid, so the
   guard never serves a model that validation says is worse than target-only.

The decision and every score behind it go into :attr:`StrategyResult.decision` (written to the
run directory as ``decision.json`` by ``graphrec transfer``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun, TrainedModel
from kg.registry import Settings

logger = logging.getLogger(__name__)

#: validation NDCG difference below which a source's effect counts as noise
DEFAULT_TOLERANCE = 0.005
#: loss weight of a source whose effect is within the tolerance
NEUTRAL_WEIGHT = 0.5


def source_verdict(contribution: float, tolerance: float) -> str:
    """``'drop'``, ``'down-weight'`` or ``'keep'`` for a leave-one-out contribution."""
    if contribution < -tolerance:
        return "drop"
    if contribution <= tolerance:
        return "down-weight"
    return "keep"


@dataclass(frozen=True)
class GuardConfig(Settings):
    """``tolerance``: valid NDCG difference treated as noise; ``neutral_weight``: loss weight
    of a source within the tolerance."""

    what: ClassVar[str] = "guarded strategy"

    tolerance: float = DEFAULT_TOLERANCE
    neutral_weight: float = NEUTRAL_WEIGHT


class Guarded(Strategy):
    """The ``guarded`` strategy (see the module docstring).

    Its result's ``decision`` holds ``baseline`` (the target-only valid score),
    ``all_sources`` (joint's), ``sources`` (per source: ``valid_without``, ``contribution``,
    ``verdict``, ``weight``), ``chosen`` (which model was served) and ``tolerance``.
    """

    name = "guarded"
    settings_type = GuardConfig

    def run(self, run: StrategyRun) -> StrategyResult:
        tolerance, neutral_weight = self.settings.tolerance, self.settings.neutral_weight
        target, sources = run.target, run.sources

        def train(kept: list[str], weights: dict[str, float] | None = None) -> TrainedModel:
            chosen = [target, *kept]
            return run.train(chosen, chosen, weights=weights,
                             name=f"{self.name} ({'+'.join(chosen)})")

        alone = train([])
        everything = train(sources)
        evidence, withouts = {}, {}
        for source in sources:
            rest = [s for s in sources if s != source]
            without = withouts[source] = train(rest) if rest else alone  # one source
            contribution = everything.fit.best_score - without.fit.best_score
            verdict = source_verdict(contribution, tolerance)
            evidence[source] = {"valid_without": without.fit.best_score,
                                "contribution": contribution, "verdict": verdict,
                                "weight": {"drop": 0.0, "down-weight": neutral_weight,
                                           "keep": 1.0}[verdict]}
            logger.info("guard: %s contributes %+.4f valid NDCG -> %s", source, contribution,
                        verdict)
        kept = [s for s in sources if evidence[s]["verdict"] != "drop"]
        candidates = {"target-only": (alone, [target]), "all-sources": (everything, None)}
        if kept != sources or any(evidence[s]["weight"] != 1.0 for s in kept):
            weights = {s: evidence[s]["weight"] for s in kept}
            dropped = [s for s in sources if s not in kept]
            reuse = len(dropped) == 1 and all(w == 1.0 for w in weights.values())
            # dropping exactly one source at full weight is the leave-one-out model already
            model = withouts[dropped[0]] if reuse else train(kept, weights)
            candidates["guarded"] = (model, [target, *kept])
        chosen = max(candidates, key=lambda c: candidates[c][0].fit.best_score)
        trained, graph_scenarios = candidates[chosen]
        decision = {
            "target": target, "tolerance": tolerance, "metric": f"valid ndcg@{run.config.k}",
            "baseline": alone.fit.best_score, "all_sources": everything.fit.best_score,
            "sources": evidence, "kept": kept,
            "dropped": [s for s in sources if s not in kept],
            "candidates": {c: m.fit.best_score for c, (m, _) in candidates.items()},
            "chosen": chosen,
        }
        return run.finish(self.name, trained,
                          None if graph_scenarios is None else sorted(graph_scenarios),
                          decision=decision)



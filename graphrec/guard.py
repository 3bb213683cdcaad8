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
import time
from dataclasses import dataclass
from typing import ClassVar

from graphrec.evaluate import Protocol
from graphrec.strategy_base import StrategyResult, TrainedModel, finish, train_scenarios
from graphrec.train import TrainConfig
from kg.registry import Settings
from kg.tables import KGTables

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


def run_guarded(tables: KGTables, target: str, config: TrainConfig, *, progress: bool = True,
                protocol: Protocol | None = None, options: dict | None = None
                ) -> StrategyResult:
    """The ``guarded`` strategy (see the module docstring); ``options``: :class:`GuardConfig`.

    Returns:
        the final model's result, named ``guarded``; ``decision`` holds ``baseline`` (the
        target-only valid score), ``all_sources`` (joint's), ``sources`` (per source:
        ``valid_without``, ``contribution``, ``verdict``, ``weight``), ``chosen`` (which model
        was served) and ``tolerance``.
    """
    guard = GuardConfig.from_dict(options)
    tolerance, neutral_weight = guard.tolerance, guard.neutral_weight
    started = time.perf_counter()
    scenarios = sorted(tables.scenarios["scenario"])
    sources = [s for s in scenarios if s != target]

    def train(kept: list[str], weights: dict[str, float] | None = None) -> TrainedModel:
        chosen = [target, *kept]
        return train_scenarios(tables, target, chosen, chosen, config, progress=progress,
                               protocol=protocol, weights=weights)

    alone = train([])
    everything = train(sources)
    evidence, withouts = {}, {}
    for source in sources:
        rest = [s for s in sources if s != source]
        without = withouts[source] = train(rest) if rest else alone  # one source: target-only
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
        # dropping exactly one source at full weight is the leave-one-out model already trained
        model = withouts[dropped[0]] if reuse else train(kept, weights)
        candidates["guarded"] = (model, [target, *kept])
    chosen = max(candidates, key=lambda c: candidates[c][0].fit.best_score)
    trained, graph_scenarios = candidates[chosen]
    decision = {
        "target": target, "tolerance": tolerance, "metric": f"valid ndcg@{config.k}",
        "baseline": alone.fit.best_score, "all_sources": everything.fit.best_score,
        "sources": evidence, "kept": kept,
        "dropped": [s for s in sources if s not in kept],
        "candidates": {c: m.fit.best_score for c, (m, _) in candidates.items()},
        "chosen": chosen,
    }
    return finish("guarded", trained, tables, target, config, started, protocol,
                  None if graph_scenarios is None else sorted(graph_scenarios),
                  decision=decision)


def strategy_decision(results: list[StrategyResult], target: str,
                      tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """Compare every learned strategy with ``target-only`` on valid and pick one.

    Args:
        results: results of one comparison; must include ``target-only``.

    Returns:
        JSON-ready ``{"target", "metric", "tolerance", "target_only", "strategies": {name:
        {"valid", "gain", "verdict"}}, "selected", "guard"}``: ``gain`` is the valid score
        minus target-only's, ``verdict`` ``'hurts'`` below ``-tolerance``, ``'helps'`` above
        ``tolerance``, ``'neutral'`` between; ``selected`` the best valid score among learned
        strategies (target-only included, so never one validation says is worse);
        ``guard`` the per-source evidence of a ``guarded`` result, if any.
    """
    by_name = {r.name: r for r in results if r.model is not None}
    if "target-only" not in by_name:
        raise ValueError("strategy_decision needs a target-only result to compare with")
    base = by_name["target-only"].valid_score
    rows = {}
    for name, r in by_name.items():
        gain = r.valid_score - base
        verdict = "hurts" if gain < -tolerance else "helps" if gain > tolerance else "neutral"
        rows[name] = {"valid": r.valid_score, "gain": gain, "verdict": verdict}
    selected = max(by_name, key=lambda n: by_name[n].valid_score)
    guard = by_name["guarded"].decision if "guarded" in by_name else None
    return {"target": target, "metric": "valid ndcg", "tolerance": tolerance,
            "target_only": base, "strategies": rows, "selected": selected, "guard": guard}


def decision_rows(decision: dict) -> list[dict]:
    """Printable rows of a decision: one per strategy, then one per guarded source."""
    rows = [{"what": f"strategy {name}", "valid": f"{r['valid']:.4f}",
             "vs target-only": f"{r['gain']:+.4f}",
             "decision": r["verdict"] + (" (selected)" if name == decision["selected"]
                                         else "")}
            for name, r in decision.get("strategies", {}).items()]
    guard = decision.get("guard") or (decision if "sources" in decision else None)
    if guard:
        for source, ev in guard["sources"].items():
            rows.append({"what": f"joint without {source}",
                         "valid": f"{ev['valid_without']:.4f}", "vs target-only": "",
                         "decision": f"{ev['verdict']} (contribution "
                                     f"{ev['contribution']:+.4f}, weight {ev['weight']})"})
        served = guard["candidates"][guard["chosen"]]
        rows.append({"what": "guarded model", "valid": f"{served:.4f}",
                     "vs target-only": f"{served - guard['baseline']:+.4f}",
                     "decision": f"served: {guard['chosen']}"})
    return rows

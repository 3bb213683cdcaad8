"""The transfer decision of ``graphrec transfer``: every learned strategy against
``target-only`` on the validation split, and the one to serve."""

from __future__ import annotations

from graphrec.errors import TrainingError
from graphrec.strategies.base import StrategyResult
from graphrec.strategies.guarded import DEFAULT_TOLERANCE


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
        raise TrainingError("the transfer decision needs a target-only result to compare "
                            "with; add \"target-only\" to the strategies")
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

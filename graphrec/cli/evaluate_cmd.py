"""``graphrec evaluate RUN_DIR``: metrics of a trained run under a chosen protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from graphrec.cli.output import console, fail, table, versus_table
from kg.errors import GraphRecError

#: graphrec.evaluation.harness.SUBSETS and DEFAULT_SUBSETS, repeated here so that help does not
#: import torch (a test checks they agree)
SUBSETS = ("all", "warm", "cold_users", "cold_items", "both_cold")
DEFAULT_SUBSETS = ("all", "cold_users", "cold_items")
#: graphrec.evaluation.metrics.TIES, repeated for the same reason
TIES = ("expected", "pessimistic", "optimistic")
#: graphrec.evaluation.baselines.BASELINES' names, repeated for the same reason
BASELINES = ("popularity", "attribute-popularity", "content-popularity", "item-knn",
             "attribute-knn", "ease")
#: graphrec.strategies.versus.STRONGEST, repeated for the same reason
STRONGEST = "strongest"


def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    protocol: Annotated[str | None, typer.Option(
        help="full: rank every item of the scenario; sampled: each positive against "
             "--negatives items drawn from the scenario's training items. Default: the "
             "run's [eval] protocol (full when it has none).", show_default=False)] = None,
    split: Annotated[str, typer.Option(help="Held-out split to score.")] = "test",
    subset: Annotated[list[str] | None, typer.Option(
        "--subset", help=f"Subsets of the held-out rows (repeatable): {', '.join(SUBSETS)}. "
                         f"Default: {', '.join(DEFAULT_SUBSETS)}.")] = None,
    scenario: Annotated[str | None, typer.Option(
        "--scenario", "-s", help="Scenario to score (default: the run's target).")] = None,
    k: Annotated[list[int] | None, typer.Option(
        "-k", help="Cut-offs (repeatable; default 10 and 20).")] = None,
    negatives: Annotated[int | None, typer.Option(
        help="Sampled protocol: negatives per row (default: the run's, else 999).",
        show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(
        help="Sampled protocol: seed of the draw (default: the run's, else 2022).",
        show_default=False)] = None,
    ties: Annotated[str | None, typer.Option(
        help="How a positive tied with other candidates is ranked: expected (the mean over "
             "orderings of the tied candidates), pessimistic (after all of them) or "
             "optimistic (before all of them, some papers' rule; for comparison "
             "only). Default: the run's, else expected.", show_default=False)] = None,
    min_weight: Annotated[float | None, typer.Option(
        "--min-weight", help="Held-out rows rated below this are not positives (they stay "
                             "candidates). Default: the run's [eval] min_weight, else none.",
        show_default=False)] = None,
    candidates: Annotated[str | None, typer.Option(
        help="scenario: every item of the scenario competes; split: only the items held out "
             "in the split (cold-start items). Default: the run's, else scenario.",
        show_default=False)] = None,
    bootstrap: Annotated[int, typer.Option(
        help="Bootstrap resamples over test users for 95% intervals (0: none).")] = 1000,
    baseline: Annotated[str | None, typer.Option(
        help=f"Also fit this training-free baseline on the run's training interactions "
             f"({', '.join(BASELINES)}, or {STRONGEST}: on each subset the one of them but "
             f"ease that validates best there; its setting, if any, chosen on the valid "
             f"split) and compare the run with it on the same users: the ratio of the means "
             f"with a paired 95% bootstrap interval, and how often the run is ahead.",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score a run on a held-out split: Recall/NDCG/HR@K, MRR, coverage (full protocol) and
    95% bootstrap intervals, per subset (warm, cold-start users, cold-start items, both);
    with --baseline, against a training-free baseline on the same users."""
    from graphrec.errors import RunError
    from graphrec.evaluation import Protocol
    from graphrec.serving import Recommender
    from graphrec.serving.run_dir import read_run_json
    from graphrec.strategies import decision_rows
    from graphrec.strategies.versus import check_baseline
    
    try:
        if baseline is not None:
            check_baseline(baseline)  # before the run is loaded
        rec = Recommender.load(run_dir)
        config = read_run_json(run_dir, "config.json")
        target = scenario or config.get("target")
        if not isinstance(target, str):
            raise RunError(f"{run_dir / 'config.json'} names no target scenario; pass "
                           "--scenario")
        saved = config.get("eval", {})  # runs made before [eval] have none
        if not isinstance(saved, dict):
            raise RunError(f"{run_dir / 'config.json'}: 'eval' must be an object, not "
                           f"{saved!r}")
        given = {"protocol": protocol, "negatives": negatives, "seed": seed, "ties": ties,
                 "min_weight": min_weight, "candidates": candidates}
        chosen = Protocol.from_dict({**saved, **{k: v for k, v in given.items()
                                                 if v is not None}}, "the protocol")
        ks, subsets = tuple(k or (10, 20)), tuple(subset or DEFAULT_SUBSETS)
        versus = None
        if baseline is None:
            result = rec.evaluate(target, split, ks, subsets, chosen, bootstrap)
        else:
            versus = rec.compare(baseline, target, split, ks, subsets, chosen, bootstrap)
            result = {name: part["model"] for name, part in versus["subsets"].items()}
        decision_file = run_dir / "decision.json"
        decision = read_run_json(run_dir, "decision.json") if decision_file.is_file() else None
    except GraphRecError as exc:
        fail(str(exc))
    if as_json:
        out = {"scenario": target, "split": split, "protocol": chosen.name,
               "ties": chosen.ties, "eval": chosen.to_dict(), "results": result,
               "decision": decision}
        if versus is not None:
            out["versus"] = versus
        typer.echo(json.dumps(out, indent=2))
        return
    rows = []
    for name, metrics in result.items():
        row = {"subset": name, "users": str(metrics["users"])}
        for key, value in metrics.items():
            if key in ("users", "rows", "ci95"):
                continue
            ci = metrics.get("ci95", {}).get(key)
            row[key] = f"{value:.4f}" + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")
        rows.append(row)
    extra = "".join([f", positives rated >= {chosen.min_weight:g}"
                     if chosen.min_weight is not None else "",
                     ", candidates: the split's items" if chosen.candidates == "split" else ""])
    console.print(table(rows, f"{target!r}, {split} split, {chosen.name} protocol, "
                        f"{chosen.ties} ties{extra}"))
    if decision is not None:
        console.print(table(decision_rows(decision),
                            "why this model: negative-transfer check on the valid split"))
    if versus is not None:
        console.print(versus_table(versus))

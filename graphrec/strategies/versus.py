"""A model against a training-free baseline on the same held-out users.

What ``graphrec evaluate --baseline`` and ``graphrec transfer`` report (and
:meth:`graphrec.serving.Recommender.compare`): the baseline is fitted on the same training
interactions, its one setting (where it has one) chosen on the scenario's valid split as its
strategy chooses it, and both are scored on the same held-out users under the same protocol,
with a paired bootstrap over those users (:func:`graphrec.evaluation.compare`): whether the
model beats the baseline, not only where each one's interval lies.

``baseline = "strongest"`` fits every baseline of :data:`STRONGEST_OF` and compares each
subset of the held-out users with the one that validates best on that subset, so that a model
is read against the strongest simple method there, whichever it is (item-kNN on dense
co-interactions, attribute-kNN or popularity from content on cold-start items).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from graphrec.errors import ConfigError
from graphrec.evaluation.baselines import BASELINES
from graphrec.evaluation.harness import (
    DEFAULT_SUBSETS,
    Protocol,
    Scorer,
    compare,
    evaluate,
    without_values,
)
from graphrec.strategies.baselines import baseline_settings, fit_baseline, valid_ndcg
from kg.schema import TRAIN_SPLITS

#: the ``baseline`` that stands for the best of :data:`STRONGEST_OF` on each subset's valid
#: users (:func:`strongest_by_subset`)
STRONGEST = "strongest"
#: the baselines ``"strongest"`` chooses among: every training-free baseline but ``ease``,
#: whose ridge regression inverts an items x items matrix (minutes on a catalogue of tens of
#: thousands of items; name it to compare with it)
STRONGEST_OF: tuple[str, ...] = ("popularity", "attribute-popularity", "content-popularity",
                                 "item-knn", "attribute-knn")


def check_baseline(name: str) -> str:
    """``name`` when it names a baseline or :data:`STRONGEST`, else a ConfigError listing
    them."""
    if name != STRONGEST and name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; baselines are "
                          f"{[*BASELINES, STRONGEST]}")
    return name


def ran_baselines(results: Sequence, index) -> dict[str, Scorer]:
    """The fitted scorers of the training-free baselines among ``results`` (a comparison's
    :class:`~graphrec.strategies.base.StrategyResult` list) that score over ``index`` (the
    compared model's graph index), by name: :func:`against_baseline`'s ``fitted``, when the
    comparison selected them on the same valid split, protocol and k."""
    return {r.name: r.scorer for r in results
            if r.name in BASELINES and r.scorer is not None and r.index == index}


def strongest_by_subset(valid: dict[str, dict[str, float]], subsets: Sequence[str]
                        ) -> dict[str, str]:
    """Per subset, the baseline with the highest valid score on it (``valid``: baseline ->
    subset -> score; a subset a baseline has no score on, as one the valid split holds no
    users of, counts its ``"all"`` score, and none at all 0.0); on a tie the first in
    ``valid``'s order."""
    def on(name: str, subset: str) -> float:
        scores = valid[name]
        return scores.get(subset, scores.get("all", 0.0))

    return {subset: max(valid, key=lambda name: on(name, subset)) for subset in subsets}


def against_baseline(scorer: Scorer, index, tables, scenario: str, baseline: str = "item-knn",
                     split: str = "test", ks: Sequence[int] = (10, 20),
                     subsets: Sequence[str] = DEFAULT_SUBSETS,
                     protocol: Protocol | None = None, bootstrap: int = 1000,
                     fitted: Mapping[str, Scorer] | None = None) -> dict:
    """``scorer`` (a model, over ``index`` and ``tables``) against the training-free
    ``baseline`` (a name of :data:`~graphrec.evaluation.baselines.BASELINES`, or
    :data:`STRONGEST`) on ``scenario``'s held-out ``split`` (module docstring). A baseline's
    setting is chosen on the scenario's ``valid`` split under ``protocol`` by NDCG at the
    largest of ``ks``, as its strategy chooses it. With :data:`STRONGEST`, every baseline of
    :data:`STRONGEST_OF` is fitted so and each subset is compared with the one whose valid
    NDCG on that subset is highest (:func:`strongest_by_subset`): item-kNN, blind to
    cold-start items, is no yardstick for them. ``bootstrap``: the resamples of every
    interval (0: the metrics get none, and the paired comparison still takes 1,000).
    ``fitted``: baselines already fitted on the same tables, by name (the scorers of a
    comparison's baseline strategies, whose settings were chosen on this valid split under
    this protocol, at NDCG@``max(ks)``); those are compared as they are, not fitted again.

    Returns:
        ``{"baseline": the name asked, "subsets": {subset: {"baseline_name": the baseline
        compared, "settings": its settings, "model": metrics, "baseline": metrics,
        "paired": {metric: comparison}}}}`` (JSON-ready): each side's metrics as
        :func:`~graphrec.evaluation.evaluate` gives them, and for each metric the model's
        :func:`~graphrec.evaluation.metrics.paired_bootstrap` against the baseline; a named
        baseline also gives its ``"settings"``, :data:`STRONGEST` every tried baseline's
        valid NDCG per subset (``"chosen_from"``).
    """
    check_baseline(baseline)
    k = max(ks)

    def score(candidate) -> float:
        return valid_ndcg(candidate, index, tables, scenario, k, protocol)

    names = STRONGEST_OF if baseline == STRONGEST else (baseline,)
    given = fitted or {}
    baselines = {name: ((given[name], baseline_settings(name, given[name])) if name in given
                        else fit_baseline(name, tables, index, score)[:2]) for name in names}
    out: dict = {"baseline": baseline}
    if baseline == STRONGEST:
        valid = {name: {subset: metrics[f"ndcg@{k}"] for subset, metrics in evaluate(
            knn, index, tables, scenario, "valid", (k,), tuple(subsets), protocol).items()}
            for name, (knn, _) in baselines.items()}
        chosen = strongest_by_subset(valid, subsets)
        out["chosen_from"] = valid
    else:
        chosen = {subset: baseline for subset in subsets}
        out["settings"] = baselines[baseline][1]
    args = (index, tables, scenario, split, tuple(ks))
    rest = (protocol, TRAIN_SPLITS, bootstrap)
    mine = evaluate(scorer, *args, tuple(subsets), *rest, keep_values=True)
    theirs = {}
    for name in dict.fromkeys(chosen.values()):  # each chosen baseline once, on its subsets
        own = tuple(s for s in subsets if chosen[s] == name)
        theirs.update({subset: (name, result) for subset, result in evaluate(
            baselines[name][0], *args, own, *rest, keep_values=True).items()})
    parts = {}
    for subset, metrics in mine.items():
        name, other = theirs[subset]
        metric_names = [m for m in metrics["values"] if m != "users"]
        parts[subset] = {"baseline_name": name, "settings": baselines[name][1],
                         "model": without_values(metrics), "baseline": without_values(other),
                         "paired": {m: compare(metrics, other, m, bootstrap or 1000)
                                    for m in metric_names}}
    return {**out, "subsets": parts}

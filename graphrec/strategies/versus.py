"""A model against a training-free baseline on the same held-out users.

What ``graphrec evaluate --baseline`` and ``graphrec transfer`` report (and
:meth:`graphrec.serving.Recommender.compare`): the baseline is fitted on the same training
interactions, its one setting (where it has one) chosen on the scenario's valid split as its
strategy chooses it, and both are scored on the same held-out users under the same protocol,
with a paired bootstrap over those users (:func:`graphrec.evaluation.compare`): whether the
model beats the baseline, not only where each one's interval lies.

``baseline = "strongest"`` fits every baseline of :data:`STRONGEST_OF` and keeps the one
that validates best, so that a model is read against the strongest simple method on that
data, whichever it is (item-kNN on dense co-interactions, attribute-kNN or popularity from
content on cold-start items).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
from graphrec.strategies.baselines import fit_baseline, valid_ndcg
from kg.schema import TRAIN_SPLITS

#: the ``baseline`` that stands for the best of :data:`STRONGEST_OF` on validation
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
                          f"{sorted(BASELINES) + [STRONGEST]}")
    return name


def fit_strongest(tables, index, score: Callable[[object], float],
                  names: Sequence[str] = STRONGEST_OF) -> tuple[str, object, dict,
                                                                dict[str, float]]:
    """The baseline of ``names`` whose ``score`` (a validation score, higher is better) is
    highest, each fitted with its setting chosen as :func:`fit_baseline` chooses it; on a tie
    the first in ``names``.

    Returns:
        ``(name, scorer, its settings, {name: score} of every one tried)``.
    """
    if not names:
        raise ConfigError("fit_strongest needs at least one baseline")
    best, scores = None, {}
    for name in names:
        scorer, settings, _ = fit_baseline(check_baseline(name), tables, index, score)
        scores[name] = float(score(scorer))
        if best is None or scores[name] > scores[best[0]]:
            best = (name, scorer, settings)
        del scorer  # the losers' item-item matrices go before the next is built
    return best[0], best[1], best[2], scores


def against_baseline(scorer: Scorer, index, tables, scenario: str, baseline: str = "item-knn",
                     split: str = "test", ks: Sequence[int] = (10, 20),
                     subsets: Sequence[str] = DEFAULT_SUBSETS,
                     protocol: Protocol | None = None, bootstrap: int = 1000) -> dict:
    """``scorer`` (a model, over ``index`` and ``tables``) against the training-free
    ``baseline`` (a name of :data:`~graphrec.evaluation.baselines.BASELINES`, or
    :data:`STRONGEST`) on ``scenario``'s held-out ``split`` (module docstring). The
    baseline's setting, and with :data:`STRONGEST` the baseline itself, is chosen on the
    scenario's ``valid`` split under ``protocol`` by NDCG at the largest of ``ks``.
    ``bootstrap``: the resamples of every interval (0: the metrics get none, and the paired
    comparison still takes 1,000).

    Returns:
        ``{"baseline": name, "settings": {...}, "subsets": {subset: {"model": metrics,
        "baseline": metrics, "paired": {metric: comparison}}}}`` (JSON-ready): each side's
        metrics as :func:`~graphrec.evaluation.evaluate` gives them, and for each metric the
        model's :func:`~graphrec.evaluation.metrics.paired_bootstrap` against the baseline;
        with :data:`STRONGEST` also ``"chosen_from"``, each tried baseline's valid score.
    """
    check_baseline(baseline)

    def score(candidate) -> float:
        return valid_ndcg(candidate, index, tables, scenario, max(ks), protocol)

    out: dict = {"baseline": baseline}
    if baseline == STRONGEST:
        name, knn, settings, tried = fit_strongest(tables, index, score)
        out.update(baseline=name, chosen_from=tried)
    else:
        knn, settings, _ = fit_baseline(baseline, tables, index, score)
    args = (index, tables, scenario, split, tuple(ks), tuple(subsets), protocol, TRAIN_SPLITS,
            bootstrap)
    mine = evaluate(scorer, *args, keep_values=True)
    theirs = evaluate(knn, *args, keep_values=True)
    parts = {}
    for subset, metrics in mine.items():
        names = [k for k in metrics["values"] if k != "users"]
        parts[subset] = {"model": without_values(metrics),
                         "baseline": without_values(theirs[subset]),
                         "paired": {name: compare(metrics, theirs[subset], name, bootstrap
                                                  or 1000) for name in names}}
    return {**out, "settings": settings, "subsets": parts}

"""Training-free baselines as strategies: ``popularity``, ``attribute-popularity``,
``content-popularity``, ``item-knn``, ``attribute-knn`` and ``ease`` (scorers in
:mod:`graphrec.evaluation.baselines`), fitted on the training interactions of every scenario
and scored in the same harness; a baseline's one setting, where it has one, is chosen on the
target's validation split."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from graphrec.errors import ConfigError
from graphrec.evaluation.baselines import ATTRIBUTE_WEIGHTINGS, MAX_EASE_ITEMS, build_baseline
from graphrec.evaluation.harness import evaluate
from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun
from kg.registry import Settings

#: the ``l2`` weights the ``ease`` strategy tries on validation by default
EASE_L2: tuple[float, ...] = (30.0, 100.0, 300.0, 1000.0)
#: the ridge weights the ``content-popularity`` strategy tries on validation by default
CONTENT_L2: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)


class Baseline(Strategy):
    """A training-free scorer; ``name`` is the baseline's registered name."""

    learned = False

    def fit(self, run: StrategyRun, index) -> tuple[object, float, dict | None]:
        """The fitted scorer, its validation score and what was decided (None: nothing):
        :func:`fit_for_run`, so a hybrid of the same comparison blending this baseline gets
        this fit."""
        scorer, settings, decision, _ = fit_for_run(run, self.name, index, self.settings,
                                                    self.name)
        if "l2" in settings:
            valid = decision["valid_ndcg_by_l2"][str(settings["l2"])]
        elif "weighting" in settings:
            valid = decision["valid_ndcg_by_weighting"][settings["weighting"]]
        else:
            valid = valid_score(scorer, run, index)
        return scorer, valid, decision or None

    def run(self, run: StrategyRun) -> StrategyResult:
        data, index = run.graph(co_interactions=0)
        scorer, valid, decision = self.fit(run, index)
        test = evaluate(scorer, index, run.tables, run.target, "test", (run.config.k,),
                        protocol=run.protocol)
        return StrategyResult(self.name, test, valid,
                              seconds=time.perf_counter() - run.started, index=index,
                              scorer=scorer, decision=decision)


def valid_ndcg(scorer, index, tables, target: str, k: int, protocol=None) -> float:
    """NDCG@``k`` of ``scorer`` on ``target``'s valid split under ``protocol`` (0.0 when the
    target has no valid split)."""
    valid = evaluate(scorer, index, tables, target, "valid", (k,), ("all",), protocol)
    return valid["all"][f"ndcg@{k}"] if valid else 0.0


def valid_score(scorer, run: StrategyRun, index) -> float:
    """NDCG@k of ``scorer`` on the target's valid split under the run's protocol (0.0 when the
    target has no valid split): what every strategy is selected on."""
    return valid_ndcg(scorer, index, run.tables, run.target, run.config.k, run.protocol)


def progress_label(run: StrategyRun) -> str | None:
    """What :func:`select_ease` prints its validation scores as (None: ``run`` prints no
    progress)."""
    return f"valid NDCG@{run.config.k}" if run.progress else None


class Popularity(Baseline):
    """Items ranked by their training interactions."""

    name = "popularity"


class AttributePopularity(Baseline):
    """Items ranked by the mean training frequency of their attributes."""

    name = "attribute-popularity"


def _check_l2(section: str, values: tuple[float, ...]) -> None:
    """Refuse an empty or non-positive list of ridge weights of ``[strategy.<section>]``."""
    if not values:
        raise ConfigError(f"[strategy.{section}] l2 must name at least one weight")
    for value in values:
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0):
            raise ConfigError(f"[strategy.{section}] l2 values must be > 0, not {value!r}")


@dataclass(frozen=True)
class ContentPopularityConfig(Settings):
    """``[strategy.content-popularity]``: the ridge weights tried on validation (and past
    them while validation rises, :func:`select_l2`)."""

    what = "content-popularity strategy"

    l2: tuple[float, ...] = CONTENT_L2

    def __post_init__(self):
        _check_l2("content-popularity", self.l2)


class ContentPopularity(Baseline):
    """Popularity, a cold-start item's predicted from its attribute values by a ridge
    regression, its ``l2`` chosen on the target's validation split (NDCG@k; the larger weight
    on a tie)."""

    name = "content-popularity"
    settings_type = ContentPopularityConfig


class ItemKNN(Baseline):
    """Item-kNN over the items' user columns: a user's items vote for similar items."""

    name = "item-knn"


@dataclass(frozen=True)
class AttributeKNNConfig(Settings):
    """``[strategy.attribute-knn]``: the attribute weightings tried on validation
    (``binary``: every value 1; ``idf``: rare values weigh more)."""

    what = "attribute-knn strategy"

    weighting: tuple[str, ...] = ATTRIBUTE_WEIGHTINGS

    def __post_init__(self):
        if not self.weighting:
            raise ConfigError("[strategy.attribute-knn] weighting must name at least one of "
                              f"{list(ATTRIBUTE_WEIGHTINGS)}")
        for value in self.weighting:
            if value not in ATTRIBUTE_WEIGHTINGS:
                raise ConfigError(f"[strategy.attribute-knn] weighting must be among "
                                  f"{list(ATTRIBUTE_WEIGHTINGS)}, not {value!r}")


class AttributeKNN(Baseline):
    """Item-kNN over the items' attribute vectors (a content profile), its weighting chosen on
    the target's validation split (NDCG@k; the one listed first on a tie)."""

    name = "attribute-knn"
    settings_type = AttributeKNNConfig


def select_attribute_knn(tables, index, score: Callable[[object], float],
                         settings: AttributeKNNConfig | None = None):
    """Fit attribute-kNN once per ``settings.weighting`` and keep the one that validates best
    (``score``: a strategy's :func:`valid_score`; the weighting listed first on a tie).

    Returns:
        ``(scorer, decision)``: the fitted item-kNN over attributes and ``{"weighting":
        chosen, "valid_ndcg_by_weighting": {weighting: score}}``.
    """
    settings = settings or AttributeKNNConfig()
    tried, scorer = {}, None
    for weighting in dict.fromkeys(settings.weighting):
        candidate = build_baseline("attribute-knn", tables, index, weighting=weighting)
        tried[weighting] = score(candidate)
        if scorer is None or tried[weighting] > tried[scorer.weighting]:
            scorer = candidate
    return scorer, {"weighting": scorer.weighting, "valid_ndcg_by_weighting": tried}


@dataclass(frozen=True)
class EASEConfig(Settings):
    """``[strategy.ease]``: the ridge weights tried on validation (and past them while
    validation rises, :func:`select_l2`), and the size limit."""

    what = "ease strategy"

    l2: tuple[float, ...] = EASE_L2
    max_items: int = MAX_EASE_ITEMS

    def __post_init__(self):
        _check_l2("ease", self.l2)
        if isinstance(self.max_items, bool) or not (isinstance(self.max_items, int)
                                                    and self.max_items > 0):
            raise ConfigError(f"[strategy.ease] max_items must be a positive integer, not "
                              f"{self.max_items!r}")


class EASE(Baseline):
    """EASE's closed-form item-item weights (Steck, WWW 2019), its ``l2`` chosen on the
    target's validation split (NDCG@k; the larger weight on a tie). One Gram-matrix inversion
    per weight tried."""

    name = "ease"
    settings_type = EASEConfig


def select_ease(tables, index, score: Callable[[object], float],
                settings: EASEConfig | None = None, label: str | None = None):
    """Fit EASE once per ``settings.l2`` (and past them while validation rises) and keep the
    one that validates best (:func:`select_l2`, which prints each weight's score as
    ``label``). The best fit so far is kept beside the one being fitted: three ``[items,
    items]`` float32 matrices at the peak.

    Returns:
        ``(scorer, decision)``: the fitted :class:`graphrec.evaluation.baselines.EASE` and
        ``{"l2": chosen, "valid_ndcg_by_l2": {str(l2): score}}``.
    """
    settings = settings or EASEConfig()
    return select_l2("ease", settings.l2, tables, index, score, label,
                     max_items=settings.max_items)


#: the most ridge weights :func:`select_l2` tries past the end of its list where validation
#: still rises there (on each side)
MAX_BEYOND = 4


def select_l2(name: str, weights, tables, index, score: Callable[[object], float],
              label: str | None = None, **fixed):
    """Fit the baseline ``name`` once per ridge weight of ``weights`` (ascending; ``fixed``:
    its other keyword arguments) and keep the one that validates best (``score``: a
    strategy's :func:`valid_score`; the larger weight on a tie), printing each weight's score
    as ``label`` to stderr (None: nothing). Where the best is the largest (smallest) weight
    listed, the next larger (smaller) weights of the series 1, 3, 10, 30, ... are tried too
    while validation rises, at most :data:`MAX_BEYOND` (:func:`search_weights`): a list must
    not stop the search where validation still rises.

    Returns:
        ``(scorer, decision)``: the fitted baseline and ``{"l2": chosen,
        "valid_ndcg_by_l2": {str(l2): score}}`` over every weight tried, ascending.
    """
    held: dict[str, object] = {}  # the best fit so far and the last one

    def fit(l2: float) -> float:
        held.pop("last", None)  # a fit that did not become the best goes before the next
        start = time.perf_counter()
        held["last"] = build_baseline(name, tables, index, l2=l2, **fixed)
        value = score(held["last"])
        if label is not None:  # an EASE fit is one dense inversion: a minute at 21,000 items
            print(f"{name}: l2 {l2:g} {label} {value:.4f} "
                  f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
        return value

    def keep(l2: float) -> None:
        held["best"] = held["last"]

    best, tried = search_weights(weights, fit, keep)
    return held["best"], {"l2": best, "valid_ndcg_by_l2": {str(w): tried[w]
                                                            for w in sorted(tried)}}


def search_weights(weights, fit: Callable[[float], float],
                   keep: Callable[[float], None] | None = None
                   ) -> tuple[float, dict[float, float]]:
    """The weight whose ``fit`` (weight -> validation score) is highest among ``weights`` and
    those tried past them, and every score: each of ``weights`` in ascending order, then,
    while the best is the largest (smallest) tried, the next weight of the series
    ``1, 3`` x ``10^k`` above (below) it, stopping at the first that does not raise the
    best score or after :data:`MAX_BEYOND`. On a tie among ``weights`` the larger wins; a
    weight past them wins only by a higher score. ``keep(w)`` is called right after
    ``fit(w)`` whenever ``w`` becomes the best so far."""
    tried: dict[float, float] = {}
    best = None

    def run(weight: float, listed: bool = True) -> None:
        nonlocal best
        tried[weight] = fit(weight)
        if (best is None or tried[weight] > tried[best]
                or (listed and tried[weight] == tried[best] and weight > best)):
            best = weight
            if keep is not None:
                keep(weight)

    grid = sorted({float(w) for w in weights})
    for weight in grid:
        run(weight)
    for up in (True, False):
        edge = grid[-1] if up else grid[0]
        for _ in range(MAX_BEYOND):
            if best != edge:
                break
            before = tried[edge]
            edge = _series_step(edge, up)
            run(edge, listed=False)
            if tried[edge] <= before:
                break
    return best, tried


def _series_step(value: float, up: bool) -> float:
    """The next weight of the series ``1, 3`` x ``10^k`` above (``up``) or below ``value``
    by more than a factor 1.5 (1000 -> 3000 -> 10000; 30 -> 10 -> 3)."""
    exponent = math.floor(math.log10(value))
    series = [float(f"{m}e{p}") for p in range(exponent - 2, exponent + 3) for m in (1, 3)]
    if up:
        return min(w for w in series if w > 1.5 * value)
    return max(w for w in series if w < value / 1.5)


def fit_baseline(name: str, tables, index, score: Callable[[object], float],
                 ease: EASEConfig | None = None, attribute: AttributeKNNConfig | None = None,
                 label: str | None = None, content: ContentPopularityConfig | None = None
                 ) -> tuple[object, dict, dict]:
    """The baseline ``name`` fitted on the training interactions, its setting chosen by
    ``score`` (higher is better; a validation score) where it has one, as its strategy
    chooses it (:func:`select_ease`, :func:`select_attribute_knn`, :func:`select_l2`, with
    ``ease``, ``attribute`` and ``content``; ``label``: see :func:`select_l2`).

    Returns:
        ``(scorer, its settings, what was decided)`` (both dicts empty for a baseline with
        no setting).
    """
    if name == "ease":
        knn, decision = select_ease(tables, index, score, ease, label)
    elif name == "attribute-knn":
        knn, decision = select_attribute_knn(tables, index, score, attribute)
    elif name == "content-popularity":
        knn, decision = select_l2(name, (content or ContentPopularityConfig()).l2, tables,
                                  index, score)
    else:
        knn, decision = build_baseline(name, tables, index), {}
    return knn, baseline_settings(name, knn), decision


#: each selected baseline's settings type (its ``[strategy.<name>]`` section)
SETTINGS_TYPES = {"ease": EASEConfig, "attribute-knn": AttributeKNNConfig,
                  "content-popularity": ContentPopularityConfig}


def fit_for_run(run: StrategyRun, name: str, index, settings: Settings | None = None,
                by: str = "") -> tuple[object, dict, dict, str]:
    """:func:`fit_baseline` for a strategy run: the baseline ``name`` over ``index``, its
    setting chosen on ``run``'s validation split (:func:`valid_score`) with ``settings`` (its
    ``[strategy.<name>]`` section; None: the defaults). Fitted once per comparison
    (:meth:`StrategyRun.once`): a later run of the same comparison asking for the same
    baseline, settings and graph index gets the same fit, and ``by`` (the strategy that
    fitted it) says so.

    Returns:
        ``(scorer, its settings, what was decided, the strategy that fitted it)``.
    """
    if settings is None and name in SETTINGS_TYPES:
        settings = SETTINGS_TYPES[name]()
    fits = run.once(("baseline", name, repr(settings), run.config.k), list)
    for known, fitted, fitted_by in fits:
        if known == index:
            return (*fitted, fitted_by)
    fitted = fit_baseline(name, run.tables, index, lambda s: valid_score(s, run, index),
                          ease=settings if name == "ease" else None,
                          attribute=settings if name == "attribute-knn" else None,
                          label=progress_label(run),
                          content=settings if name == "content-popularity" else None)
    fits.append((index, fitted, by))
    return (*fitted, by)


def baseline_settings(name: str, scorer) -> dict:
    """The setting chosen for the fitted baseline ``name`` (``scorer``): ``{"l2": ...}``
    (``ease``, ``content-popularity``), ``{"weighting": ...}`` (``attribute-knn``), or ``{}``
    for a baseline without one."""
    if name in ("ease", "content-popularity"):
        return {"l2": scorer.l2}
    if name == "attribute-knn":
        return {"weighting": scorer.weighting}
    return {}

"""Ranking metrics: ranks of held-out positives -> Recall@K, NDCG@K, HR@K, MRR, coverage.

Two ways to obtain ranks:

* :func:`full_ranks`: every candidate of the scenario competes, the user's other positives of
  the evaluated split included (the standard top-K definition); only the excluded items (seen
  in training, or held out in another split) do not compete. The primary protocol.
* :func:`sampled_ranks`: each positive against a fixed set of sampled negatives (the protocol
  of papers such as CDRIB, 999 negatives).

Both return :class:`Ranks`: for each positive, how many candidates score strictly above it
and how many score exactly the same. :func:`user_metrics` turns them into per-user metric
values under a tie rule, so means and bootstrap intervals over users (:func:`bootstrap_ci`)
come from the same numbers:

* ``expected`` (default): the expectation over all orderings of tied candidates, exactly
  (linear metrics by the mean rank position; HR and MRR through the distribution of the best
  positive's position in its tie group). A scorer that gives many candidates one score gets
  exactly the credit of a random order among them, no more;
* ``pessimistic``: each positive after every tied non-positive (a worst-case ordering);
* ``optimistic``: each positive before every tied non-positive, the rule of code that counts
  only strictly higher scores (the CDRIB authors'); kept only to compare with papers, since it
  credits a sparse scorer's ties with the positive.

With one positive at rank ``r`` (0 = first) Recall@K = HR@K = [r < K], NDCG@K =
[r < K] / log2(r + 2), MRR = 1 / (r + 1). With ``n`` positives: Recall@K = hits in the top K /
n, NDCG@K = DCG of the top K / the ideal DCG of min(n, K) positives, HR@K = [a positive in the
top K], MRR = 1 / (best rank + 1); every value lies in [0, 1]. Non-finite scores are an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import digamma, gammaln
from torch import Tensor

from graphrec.errors import ConfigError, TrainingError

TIES = ("expected", "pessimistic", "optimistic")


def check_ties(ties: str) -> str:
    """``ties`` if it is a known tie rule; else a :class:`ConfigError` listing them."""
    if ties not in TIES:
        raise ConfigError(f"Could not resolve tie rule {ties!r} among choices {list(TIES)}")
    return ties


def check_finite(scores: Tensor, what: str) -> None:
    """:class:`TrainingError` if ``scores`` hold a NaN or an infinity (``what``: which scores,
    for the message)."""
    if not torch.isfinite(scores).all():
        bad = int((~torch.isfinite(scores)).sum())
        raise TrainingError(f"{bad} non-finite {what} score(s) (NaN or infinite): the model "
                            "diverged or its weights are corrupt; retrain with a lower lr")


@dataclass(frozen=True)
class Ranks:
    """Where one user's (or one sampled row's) positives stand among the candidates.

    Attributes:
        above: ``[n]`` candidates scoring strictly higher than each positive (other positives
            included).
        tied: ``[n]`` other candidates scoring exactly the same as each positive.
        tied_positives: ``[n]`` other *positives* among ``tied``.
    """

    above: np.ndarray
    tied: np.ndarray
    tied_positives: np.ndarray

    def __len__(self) -> int:
        return len(self.above)


def full_ranks(scores: Tensor, positives: Sequence[np.ndarray], exclude: Sequence[np.ndarray]
               ) -> list[Ranks]:
    """Ranks of each user's positives among all candidates that are not excluded.

    Args:
        scores: ``[num_users, num_candidates]``, finite.
        positives: per user, candidate positions of the held-out positives (non-empty).
        exclude: per user, candidate positions that do not compete (seen in training or held
            out in another split); positives are never excluded.

    Raises:
        TrainingError: a score is NaN or infinite.
    """
    check_finite(scores, "candidate")
    # excluded items at -inf: never above or tied with a score
    return ranks_among(without_excluded(scores, positives, exclude), positives)


def ranks_among(competitors: Tensor, positives: Sequence[np.ndarray]) -> list[Ranks]:
    """:func:`full_ranks` of finite scores whose excluded items are already at ``-inf``
    (:func:`without_excluded`); ``competitors``: ``[num_users, num_candidates]``."""
    ordered = torch.sort(competitors, dim=1).values  # ascending, once for every user
    n = ordered.shape[1]
    rows, cols = _flat(positives)
    if len(rows) == 0:
        return [Ranks(*(np.zeros(0, dtype=np.int64),) * 3) for _ in positives]
    mine = competitors[rows, cols]  # [P] every positive's score (never excluded), by user
    lengths = np.bincount(rows.numpy(), minlength=len(positives))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    slot = torch.from_numpy(np.arange(len(rows)) - starts[rows.numpy()])
    # [users, most positives]: each user's positive scores (padding ignored), searched in
    # that user's sorted row
    padded = competitors.new_zeros((len(positives), int(lengths.max())))
    padded[rows, slot] = mine
    at_least = n - torch.searchsorted(ordered, padded, right=False)[rows, slot]  # itself in
    above = n - torch.searchsorted(ordered, padded, right=True)[rows, slot]
    tied = (at_least - above - 1).numpy()
    above = above.numpy()
    same = _equal_in_row(rows.numpy(), mine.numpy())
    bounds = np.cumsum(lengths)[:-1]
    return [Ranks(a, t, e) for a, t, e in zip(np.split(above, bounds), np.split(tied, bounds),
                                               np.split(same, bounds), strict=True)]


def _equal_runs(rows: np.ndarray, values: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(order, run, first)``: the entries sorted by ``(row, value)`` (``lexsort`` is stable,
    so equal entries keep their index order), each sorted entry's run of equal ``(row,
    value)`` (``[P]``), and where each run starts in that order."""
    order = np.lexsort((values, rows))
    r, v = rows[order], values[order]
    new = np.ones(len(r), dtype=bool)
    new[1:] = (r[1:] != r[:-1]) | (v[1:] != v[:-1])
    return order, np.cumsum(new) - 1, np.flatnonzero(new)


def _equal_in_row(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``[P]``: for each ``(row, value)``, how many *other* entries of the same row have
    exactly the same value (``==``)."""
    order, run, _ = _equal_runs(rows, values)
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.bincount(run)[run] - 1
    return out


def _flat(per_row: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
    """``(rows, columns)``: the entries of a ragged per-row list of column arrays."""
    lengths = np.fromiter((len(a) for a in per_row), dtype=np.int64, count=len(per_row))
    rows = np.repeat(np.arange(len(per_row), dtype=np.int64), lengths)
    cols = (np.concatenate([np.asarray(a, dtype=np.int64) for a in per_row]) if len(per_row)
            else np.empty(0, dtype=np.int64))
    return torch.from_numpy(rows), torch.from_numpy(cols)


def without_excluded(scores: Tensor, positives: Sequence[np.ndarray],
                     exclude: Sequence[np.ndarray]) -> Tensor:
    """A copy of ``scores`` (``[num_users, num_candidates]``) with each user's ``exclude``
    positions at ``-inf``, except those among the user's ``positives`` (one vectorised pass
    over every user)."""
    out = scores.clone()
    rows, cols = _flat(exclude)
    if len(cols):
        mask = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)
        mask[rows.to(scores.device), cols.to(scores.device)] = True
        rows, cols = _flat(positives)
        mask[rows.to(scores.device), cols.to(scores.device)] = False
        out[mask] = -torch.inf
    return out


def sampled_ranks(pos_scores: Tensor, neg_scores: Tensor) -> list[Ranks]:
    """One :class:`Ranks` per row: its positive among its own sampled negatives.

    Args:
        pos_scores: ``[R]`` score of each test row's positive.
        neg_scores: ``[R, N]`` scores of that row's N sampled negatives.

    Raises:
        TrainingError: a score is NaN or infinite.
    """
    check_finite(pos_scores, "positive")
    check_finite(neg_scores, "negative")
    above = (neg_scores > pos_scores.unsqueeze(1)).sum(1).numpy()
    tied = (neg_scores == pos_scores.unsqueeze(1)).sum(1).numpy()
    zero = np.zeros(1, dtype=np.int64)
    return [Ranks(above[r:r + 1], tied[r:r + 1], zero) for r in range(len(above))]


def _discount_prefix(size: int) -> np.ndarray:
    """``D[k] = sum_{r < k} 1 / log2(r + 2)`` for ``k = 0..size``."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(size) + 2))])


def _best_position_survival(group: np.ndarray | int, positives: np.ndarray | int,
                            x: np.ndarray) -> np.ndarray:
    """``P(X >= x)`` where X is the smallest of ``positives`` positions drawn without
    replacement from ``range(group)``: ``C(group - x, positives) / C(group, positives)``
    (element-wise over arrays of the same shape, or scalars)."""
    x = np.asarray(x, dtype=float)
    ok = group - x >= positives
    top = np.where(ok, group - x, positives)
    log = (gammaln(top + 1) - gammaln(top - positives + 1)
           - gammaln(group + 1) + gammaln(group - positives + 1))
    return np.where(x <= 0, 1.0, np.where(ok, np.exp(log), 0.0))


def _ragged_arange(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(owner, x)``: for each ``i``, the values ``0..lengths[i]-1`` (``x``) and ``i``
    (``owner``), concatenated."""
    owner = np.repeat(np.arange(len(lengths)), lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return owner, np.arange(int(lengths.sum())) - offsets[owner]


def _order_among_equal(user: np.ndarray, above: np.ndarray) -> np.ndarray:
    """``[P]``: each positive's place (0, 1, ...) among its user's positives with the same
    ``above`` (one tie group), in index order."""
    order, run, first = _equal_runs(user, above)
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.arange(len(order)) - first[run]
    return out


def user_metrics(ranks: Sequence[Ranks], ks: Sequence[int] = (10, 20),
                 ties: str = "expected") -> dict[str, np.ndarray]:
    """Per-user metric values (see the module docstring for the definitions and tie rules),
    computed for every user at once over the concatenated ranks.

    Args:
        ranks: one :class:`Ranks` per user, each with at least one positive.

    Returns:
        metric name (``recall@10``, ``ndcg@10``, ``hr@10``, ..., ``mrr``) -> ``[num_users]``.
    """
    check_ties(ties)
    counts = np.fromiter((len(r) for r in ranks), dtype=np.int64, count=len(ranks))
    if (counts == 0).any():
        raise ValueError(f"user {int(np.argmin(counts))} has no positive to rank")
    users = len(ranks)
    names = ["mrr"] + [f"{m}@{k}" for k in ks for m in ("recall", "ndcg", "hr")]
    if users == 0:
        return {name: np.zeros(0) for name in names}
    above = np.concatenate([r.above for r in ranks]).astype(np.int64)
    tied = np.concatenate([r.tied for r in ranks]).astype(np.int64)
    tied_pos = np.concatenate([r.tied_positives for r in ranks]).astype(np.int64)
    user = np.repeat(np.arange(users), counts)
    out: dict[str, np.ndarray] = {}
    if ties == "expected":
        lo, hi = above, above + tied + 1  # rank uniform on lo..hi-1
        # the best positives' tie group: ``start`` candidates above, ``group`` in it, ``m``
        # of them positives (every positive with the smallest ``above`` is in that group)
        start = np.full(users, np.iinfo(np.int64).max)
        np.minimum.at(start, user, above)
        is_best = above == start[user]
        best = np.empty(users, dtype=np.int64)
        best[user[is_best]] = np.flatnonzero(is_best)  # one (any) of them per user
        group, m = tied[best] + 1, tied_pos[best] + 1
        # one positive in its group: rank uniform on start..start+group-1, so the mean of
        # 1 / (rank + 1) is a difference of harmonic numbers (digamma); several: the sum
        # over the best one's position X of P(X = x) / (start + x + 1)
        mrr = (digamma(start + group + 1) - digamma(start + 1)) / group
        several = np.flatnonzero(m > 1)
        owner, xs = _ragged_arange(group[several] - m[several] + 1)
        g, q = group[several][owner], m[several][owner]
        p_x = (_best_position_survival(g, q, xs) - _best_position_survival(g, q, xs + 1))
        mrr[several] = np.bincount(owner, p_x / (start[several][owner] + xs + 1),
                                   minlength=len(several))
        out["mrr"] = mrr
    else:
        tied_others = tied - tied_pos
        det = (above + (tied_others if ties == "pessimistic" else 0)
               + _order_among_equal(user, above))
        lo, hi = det, det + 1
        least = np.full(users, np.iinfo(np.int64).max)
        np.minimum.at(least, user, det)
        out["mrr"] = 1.0 / (least + 1)
    size = max(max(ks), int((above + tied).max()) + 2)
    prefix = _discount_prefix(size)
    width = (hi - lo).astype(float)
    for k in ks:
        a, b = np.minimum(lo, k), np.minimum(hi, k)
        ideal = prefix[np.minimum(counts, k)]
        out[f"recall@{k}"] = np.bincount(user, (b - a) / width, minlength=users) / counts
        out[f"ndcg@{k}"] = (np.bincount(user, (prefix[b] - prefix[a]) / width,
                                        minlength=users) / ideal)
        if ties == "expected":
            out[f"hr@{k}"] = 1.0 - _best_position_survival(group, m, k - start)
        else:
            out[f"hr@{k}"] = np.bincount(user, lo < k, minlength=users) > 0
        out[f"hr@{k}"] = out[f"hr@{k}"].astype(float)
    return {name: np.asarray(out[name], dtype=float) for name in names}


def bootstrap_ci(values: np.ndarray, groups: np.ndarray | None = None, n: int = 1000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` when whole groups (test users) are
    resampled with replacement; ``groups=None`` resamples the values themselves."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    if groups is None:
        groups = np.arange(len(values))
    sums, counts = _resampled_sums(groups, n, seed, values, np.ones(len(values)))
    stats = sums / counts
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return float(lo), float(hi)


def _resampled_sums(groups: np.ndarray, n: int, seed: int, *columns: np.ndarray
                    ) -> list[np.ndarray]:
    """For each of ``columns`` (``[m]`` values of the same units), its ``[n]`` sums over the
    same ``n`` resamples of whole ``groups`` with replacement (the same ``seed`` and groups:
    the same resamples, as :func:`bootstrap_ci` and :func:`paired_bootstrap` draw them)."""
    _, inverse = np.unique(groups, return_inverse=True)
    count = int(inverse.max()) + 1
    pick = np.random.default_rng(seed).integers(count, size=(n, count))
    return [np.bincount(inverse, weights=column, minlength=count)[pick].sum(1)
            for column in columns]


def paired_bootstrap(values: np.ndarray, baseline: np.ndarray, groups: np.ndarray | None = None,
                     n: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """How a method compares with a baseline on the same test units (users or rows), with
    whole ``groups`` (test users) resampled together for both, so that the interval is that
    of the comparison, not of two independent means (which overlap far more).

    Args:
        values: ``[m]`` the method's per-unit metric values.
        baseline: ``[m]`` the baseline's values on the same units, in the same order.
        groups: ``[m]`` each unit's group (None: each unit its own); the resamples are those
            of :func:`bootstrap_ci` with the same ``seed``.

    Returns:
        ``ratio`` (the method's mean / the baseline's; None where the baseline's is 0) and
        its ``ratio_ci95`` (percentiles over the resamples whose baseline mean is not 0),
        ``difference`` (method - baseline) and ``difference_ci95``, and ``share_better``:
        the share of resamples in which the method's mean is above the baseline's.
    """
    values = np.asarray(values, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    if values.shape != baseline.shape or values.ndim != 1:
        raise ValueError(f"values and baseline must be 1-d arrays of one length, not "
                         f"{values.shape} and {baseline.shape}")
    if len(values) == 0:
        raise ValueError("nothing to compare: no test unit")
    if not (np.isfinite(values).all() and np.isfinite(baseline).all()):
        raise ValueError("metric values must be finite")
    if groups is None:
        groups = np.arange(len(values))
    elif len(groups) != len(values):
        raise ValueError(f"groups has {len(groups)} entries, the values {len(values)}")
    tail = (1 - level) / 2 * 100
    # the resamples pick the same units for both, so their counts cancel in a ratio or sign
    method_sums, baseline_sums, counts = _resampled_sums(groups, n, seed, values, baseline,
                                                         np.ones(len(values)))
    difference = (method_sums - baseline_sums) / counts
    out = {"difference": float(values.mean() - baseline.mean()),
           "difference_ci95": [float(v) for v in np.percentile(difference, [tail, 100 - tail])],
           "share_better": float((method_sums > baseline_sums).mean()),
           "ratio": None, "ratio_ci95": None}
    if baseline.sum() > 0:
        out["ratio"] = float(values.sum() / baseline.sum())
        defined = baseline_sums > 0
        ratios = method_sums[defined] / baseline_sums[defined]
        out["ratio_ci95"] = [float(v) for v in np.percentile(ratios, [tail, 100 - tail])]
    return out


def coverage(top_items: Tensor, num_candidates: int) -> float:
    """Share of the candidate items that appear in at least one user's top-K list.

    Args:
        top_items: ``[num_users, K]`` candidate positions recommended to each user.
    """
    if num_candidates == 0:
        return 0.0
    return float(torch.unique(top_items).numel() / num_candidates)

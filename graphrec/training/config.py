"""Training settings (the ``[train]`` section) and how a missing seed is drawn."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from typing import ClassVar

from graphrec.errors import ConfigError
from graphrec.training.device import check_device_name
from graphrec.training.losses import LOSSES
from kg.registry import Settings

logger = logging.getLogger(__name__)


#: optimiser steps per epoch when ``batch_size`` is left to the data
STEPS_PER_EPOCH = 100
#: ``[train] negative_sampling`` choices
NEGATIVE_SAMPLING = ("per_pair", "shared")
#: ``negatives`` per loss when the config leaves it out: the softmax loss learns from many
#: (chosen on the validation splits of CDRIB, XMarket and MovieLens-1M, docs/benchmarks.md
#: "Training levers"), BPR from one
DEFAULT_NEGATIVES = {"softmax": 1024, "bpr": 1}
#: ``negative_sampling`` per loss when the config leaves it out
DEFAULT_NEGATIVE_SAMPLING = {"softmax": "shared", "bpr": "per_pair"}
#: ``pairwise_weight`` per loss when the config leaves it out: the softmax adds a BPR term of
#: weight 1 (level or better on all four validation splits, docs/benchmarks.md "Training
#: levers"); BPR has no such term
DEFAULT_PAIRWISE_WEIGHT = {"softmax": 1.0, "bpr": 0.0}
#: the smallest automatic batch
MIN_BATCH = 4096
#: values of ``[train] negative_pool``
NEGATIVE_POOLS = ("auto", "interacted", "all")


@dataclass(frozen=True)
class TrainConfig(Settings):
    """Training knobs. ``from_dict`` rejects unknown keys.

    ``seed`` may be left out (None): :meth:`with_seed` then draws one, logs it, and the run
    directory saves it, so every run can be repeated.
    """

    what: ClassVar[str] = "training"
    unset: ClassVar[dict[str, str]] = {
        "batch_size": "automatic: about 100 steps per epoch",
        "seed": "drawn and logged", "bridge": "the cold share of the validation users",
        "time_budget": "no limit", "clip_norm": "never"}

    model: str = "lightgcn"
    dim: int = 64
    num_layers: int = 2
    lr: float = 0.01
    #: L2 factor of the BPR loss's penalty; the softmax loss (the default) scores cosines,
    #: which an embedding's norm does not change, and has no penalty
    weight_decay: float = 1e-4
    #: a safety cap: early stopping (``patience``) ends default runs well before it
    epochs: int = 100
    #: pairs per optimiser step; None: about :data:`STEPS_PER_EPOCH` steps per epoch, at least
    #: :data:`MIN_BATCH` pairs (picked from the number of training pairs alone)
    batch_size: int | None = None
    #: evaluations without improvement before stopping (None: never stop early)
    patience: int | None = 5
    #: multiply the learning rate by this after each evaluation that does not improve on the
    #: best (1: never; 0.5 halves it, as a reduce-on-plateau schedule)
    lr_decay: float = 1.0
    #: rescale each step's gradient (every trainable parameter's, together) to at most this
    #: L2 norm before the optimiser reads it (None: never)
    clip_norm: float | None = None
    k: int = 20
    seed: int | None = None
    #: share of user/item id embeddings dropped per training step (cold-start robustness)
    id_dropout: float = 0.0
    #: pair loss: ``softmax`` (sampled softmax on cosines) or ``bpr``; see training.losses
    loss: str = "softmax"
    #: negatives per training pair, uniform over the pair's scenario; None: the loss's
    #: default (:data:`DEFAULT_NEGATIVES`)
    negatives: int | None = None
    #: ``per_pair``: ``negatives`` drawn for every pair; ``shared``: ``negatives`` drawn per
    #: batch and scenario and shared by the batch's pairs (softmax loss only; cheap at
    #: hundreds or thousands of negatives); None: the loss's default
    #: (:data:`DEFAULT_NEGATIVE_SAMPLING`)
    negative_sampling: str | None = None
    #: which items of a scenario negatives are drawn from: ``interacted``, those with
    #: training interactions (items without any, such as cold-start items waiting to be
    #: ranked, are never pushed down); ``all``, every item of the scenario, which also teaches
    #: that items nobody took in training are unlikely (a popularity prior that helps where
    #: such items compete with the others, e.g. a target with little training data);
    #: ``auto``, per scenario from its data: ``interacted`` when at least half its items have
    #: training interactions, else ``all`` (graphrec.data.pairs.negative_pool_items)
    negative_pool: str = "auto"
    #: temperature of the softmax loss
    temperature: float = 0.2
    #: softmax loss: normalise item embeddings as well as users' (False: items keep their
    #: norm, which can carry popularity)
    normalize_items: bool = True
    #: softmax loss: add a learned item bias to every score (a linear function of the item's
    #: embedding, so cold-start items get one too; see GraphModel ``item_bias``)
    item_bias: bool = False
    #: softmax loss: weight of an added pairwise (BPR) term on the same logits, which weighs
    #: every negative alike (0: none; None: the loss's default, :data:`DEFAULT_PAIRWISE_WEIGHT`)
    pairwise_weight: float | None = None
    #: share of bridge users (training edges in the target and another scenario) whose target
    #: edges are hidden from propagation at each epoch (0: off; None: the share of the
    #: target's validation users who are cold in it, see training.bridges)
    bridge: float | None = None
    #: share of the target's trained items made cold (interaction and co-interaction edges
    #: hidden, id embedding dropped) at each epoch (0: off; see training.cold_items)
    cold_items: float = 0.0
    #: item-item edges per item and scenario from co-interaction (0: none; see
    #: graphrec.data.co_interactions)
    co_interactions: int = 20
    #: the fewest users two items must share to get a co-interaction edge
    co_support: int = 2
    #: weigh each co-interaction edge by its cosine in propagation (False: every edge counts
    #: alike; see graphrec.data.co_interactions)
    co_weighted: bool = False
    #: weight of the co-interaction positives: each training pair ``(u, i)`` adds ``(u, j)``
    #: for a co-interaction neighbour ``j`` of ``i`` (0: none; needs ``co_interactions``;
    #: see PairObjective)
    co_positive_weight: float = 0.0
    #: lightgcn: learn each edge type's share of the messages a node receives (False: the
    #: plain mean over edge types; see HeteroLightGCN ``relation_weights``)
    relation_weights: bool = False
    #: seconds one training stage may run (checked after each epoch); None: no limit
    time_budget: float | None = None
    #: where training runs: ``cpu``, ``cuda`` (under torchrun: each process's own GPU) or
    #: ``cuda:N``; results come back to the CPU (see training.device)
    device: str = "cpu"
    #: keep memory the process frees for its next allocations instead of returning it to
    #: the system, so a step's large temporaries are not page-faulted in afresh each time
    #: (process-wide; glibc only; see training.memory)
    keep_memory: bool = True

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r}; losses are {list(LOSSES)}")
        if self.negatives is None:
            object.__setattr__(self, "negatives", DEFAULT_NEGATIVES[self.loss])
        if self.negative_sampling is None:
            object.__setattr__(self, "negative_sampling", DEFAULT_NEGATIVE_SAMPLING[self.loss])
        if self.pairwise_weight is None:
            object.__setattr__(self, "pairwise_weight", DEFAULT_PAIRWISE_WEIGHT[self.loss])
        check_device_name(self.device)
        if self.negative_sampling not in NEGATIVE_SAMPLING:
            raise ConfigError(f"unknown negative_sampling {self.negative_sampling!r}; choices "
                              f"are {list(NEGATIVE_SAMPLING)}")
        if self.pairwise_weight < 0:
            raise ConfigError(f"pairwise_weight must be >= 0, not {self.pairwise_weight}")
        if self.pairwise_weight > 0 and self.loss != "softmax":
            raise ConfigError('pairwise_weight needs loss = "softmax"')
        if self.item_bias and self.loss != "softmax":
            raise ConfigError('item_bias needs loss = "softmax"')
        if self.negative_sampling == "shared" and self.loss != "softmax":
            raise ConfigError('negative_sampling = "shared" needs loss = "softmax"; leave '
                              "negative_sampling out to get the loss's default")
        if self.co_weighted and self.co_interactions <= 0:
            raise ConfigError("co_weighted needs co-interaction edges (co_interactions > 0)")
        if self.negative_pool not in NEGATIVE_POOLS:
            raise ConfigError(f"negative_pool must be one of {list(NEGATIVE_POOLS)}, not "
                              f"{self.negative_pool!r}")
        if self.bridge is not None and not 0.0 <= self.bridge <= 1.0:
            raise ConfigError(f"bridge must be in [0, 1], not {self.bridge}")
        if not 0.0 <= self.cold_items <= 1.0:
            raise ConfigError(f"cold_items must be in [0, 1], not {self.cold_items}")
        if not 0.0 <= self.id_dropout < 1.0:
            raise ConfigError(f"id_dropout must be in [0, 1), not {self.id_dropout}")
        for name in ("negatives", "epochs", "batch_size", "dim", "k"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, not {getattr(self, name)}")
        if self.co_support < 1:
            raise ConfigError(f"co_support must be >= 1, not {self.co_support}")
        if self.co_positive_weight < 0:
            raise ConfigError(f"co_positive_weight must be >= 0, not "
                              f"{self.co_positive_weight}")
        if self.co_positive_weight > 0 and self.co_interactions == 0:
            raise ConfigError("co_positive_weight > 0 needs co_interactions > 0 (its positives "
                              "are the co-interaction neighbours)")
        if self.co_interactions < 0:
            raise ConfigError(f"co_interactions must be >= 0, not {self.co_interactions}")
        if self.time_budget is not None and self.time_budget <= 0:
            raise ConfigError(f"time_budget must be > 0 seconds, not {self.time_budget}")
        if isinstance(self.lr_decay, bool) or not 0.0 < self.lr_decay <= 1.0:
            raise ConfigError(f"lr_decay must be in (0, 1], not {self.lr_decay!r}")
        clip = self.clip_norm
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float))
                                 or not 0 < clip < float("inf")):
            raise ConfigError(f"clip_norm must be a positive number or left out, not {clip!r}")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0, not {self.temperature}")
        if not isinstance(self.keep_memory, bool):
            raise ConfigError(f"keep_memory must be true or false, not {self.keep_memory!r}")

    def with_loss(self, loss: str) -> TrainConfig:
        """These settings with ``loss``: the options that follow the loss (``negatives``,
        ``negative_sampling``, ``pairwise_weight``) take its defaults, and the softmax-only
        ones are reset."""
        softmax_only = {} if loss == "softmax" else {"normalize_items": True, "item_bias": False}
        return replace(self, loss=loss, negatives=None, negative_sampling=None,
                       pairwise_weight=None, **softmax_only)

    def batch_for(self, pairs: int) -> int:
        """The batch size for ``pairs`` training pairs: ``batch_size``, or when None
        ``max(MIN_BATCH, ceil(pairs / STEPS_PER_EPOCH))``, so an epoch costs about the same
        number of propagations at any size."""
        if self.batch_size is not None:
            return self.batch_size
        return max(MIN_BATCH, -(-pairs // STEPS_PER_EPOCH))

    def with_seed(self) -> TrainConfig:
        """This config with a concrete seed: its own, or a fresh one (logged) when None."""
        if self.seed is not None:
            return self
        seed = secrets.randbelow(2**31)
        logger.warning("no seed given; drew seed = %d (set it to repeat this run)", seed)
        return replace(self, seed=seed)

"""``reptile`` (Nichol et al., 2018): meta-learned initialisation, then adaptation to the target
(see :mod:`graphrec.strategies.meta_learning`)."""

from __future__ import annotations

from graphrec.strategies.meta_learning import MetaLearning


class Reptile(MetaLearning):
    """Move the weights towards each task's adapted weights."""

    name = "reptile"
    algorithm = "reptile"

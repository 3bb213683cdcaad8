"""``maml`` (Finn et al., ICML 2017; first-order): meta-learned initialisation, then
adaptation to the target (see :mod:`graphrec.strategies.meta_learning`)."""

from __future__ import annotations

from graphrec.strategies.meta_learning import MetaLearning


class MAML(MetaLearning):
    """Update the weights with the query-set gradient at each task's adapted weights."""

    name = "maml"
    algorithm = "maml"

"""Matrix factorisation: id embeddings scored by dot product, no message passing.

The BPR-MF baseline (Rendle et al., UAI 2009) inside the same training, transfer and serving
code as the graph models. It has no neighbours to draw on, so cold-start users and items (no
training interaction, hence no id embedding; see :class:`graphrec.models.base.GraphModel`) get
zero vectors and tie: it shows what the graph adds.
"""

from __future__ import annotations

from torch import Tensor

from graphrec.models.base import GraphModel


class MatrixFactorization(GraphModel):
    """User and item id embeddings only; ``num_layers`` is kept for the common interface."""

    uses_neighbours = False

    def propagate(self, x: dict[str, Tensor], cache: object) -> dict[str, Tensor]:
        return dict(x)

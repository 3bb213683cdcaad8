"""Users without id embeddings: every user is its propagated items (validation only; not
adopted).

A cold-start user of the target scenario is served from what they did elsewhere, but is
trained, like every user, with an id embedding of their own; the bridge-user simulation hides
a bridge user's target edges and keeps that id, which can learn their target items by heart.
Here no user has an id embedding, in training or serving (FISM's item-based user, Kabbur et
al., KDD 2013, on the heterogeneous LightGCN): a user's vector is propagated from their items
only, the same for a warm user in training as for a cold one at test. The patch applies only
inside :func:`patched`; the rows are those of ``benchmarks.levers`` (validation only):

    python -m benchmarks.no_user_ids cdrib-game ../shared/data/cdrib_amazon '{}'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks import levers
from graphrec.models.base import GraphModel
from kg import schema


@contextmanager
def patched() -> Iterator[None]:
    """Every :class:`GraphModel`'s user inputs are zero inside the ``with`` only."""
    inputs = GraphModel._inputs

    def without_user_ids(self, data, mask):
        x = inputs(self, data, mask)
        x[schema.PYG_USER] = x[schema.PYG_USER] * 0.0
        return x

    GraphModel._inputs = without_user_ids
    try:
        yield
    finally:
        GraphModel._inputs = inputs


def main(argv: list[str] | None = None) -> None:
    with patched():
        levers.main(argv)


if __name__ == "__main__":
    main()

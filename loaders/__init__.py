"""Loaders: raw data sets and user files -> canonical :class:`kg.KGTables` plus their splits.

Each loader is a function ``load(path, **options) -> Dataset``; loaders never train and never
touch a store. :func:`get_loader` resolves a loader by name.
"""

from __future__ import annotations

from collections.abc import Callable

from kg.registry import resolve
from loaders.amazon_hin import load_amazon_hin
from loaders.base import Dataset
from loaders.cdrib import load_cdrib
from loaders.ml1m import load_ml1m
from loaders.synthetic import SyntheticConfig, generate_synthetic, load_synthetic
from loaders.tabular import load_tabular
from loaders.xmarket import load_xmarket

LOADERS: dict[str, Callable[..., Dataset]] = {
    "amazon-hin": load_amazon_hin,
    "cdrib": load_cdrib,
    "ml1m": load_ml1m,
    "synthetic": load_synthetic,
    "tabular": load_tabular,
    "xmarket": load_xmarket,
}


def get_loader(name: str) -> Callable[..., Dataset]:
    """The loader registered as ``name`` (see :data:`LOADERS`)."""
    return resolve(name, LOADERS, "loader")


__all__ = ["LOADERS", "Dataset", "SyntheticConfig", "generate_synthetic", "get_loader"]

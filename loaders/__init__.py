"""Loaders: raw data sets and user files -> canonical :class:`kg.KGTables` plus their splits.

Each loader is a function ``load(path, **options) -> Dataset``; loaders never train and never
touch a store. :func:`get_loader` resolves a loader by name.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path

from kg.errors import ConfigError
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


def loader_options(name: str) -> list[str]:
    """The keyword options loader ``name`` takes besides its path."""
    return _options(get_loader(name))[0]


def _options(loader: Callable[..., Dataset]) -> tuple[list[str], bool]:
    """``(named options, whether it also takes **options)`` of a loader's signature."""
    params = inspect.signature(loader).parameters.values()
    named = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY
             or (p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and p.name != "path")]
    return named, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def load_dataset(name: str, path: str = "-", options: Mapping | None = None) -> Dataset:
    """Run loader ``name`` on ``path`` with ``options``.

    Raises:
        ConfigError: the loader is unknown, or an option is not one of the loader's (the
            message names the loader and lists its options).
    """
    loader = get_loader(name)
    known, takes_any = _options(loader)
    unknown = sorted(set(options or {}) - set(known))
    if unknown and not takes_any:  # a loader with **options checks them itself
        raise ConfigError(f"unknown option(s) {unknown} of loader {name!r}; its options are "
                          f"{sorted(known)}")
    dataset = loader(path, **dict(options or {}))
    return dataclasses.replace(dataset, source=dataset_source(name, path, options))


def dataset_source(name: str, path: str = "-", options: Mapping | None = None) -> str:
    """``loader [absolute path] [k=v ...]``: what a load read, the identity a store keeps."""
    parts = [name]
    if path != "-":
        parts.append(str(Path(path).resolve()))
    parts += [f"{k}={v}" for k, v in sorted((options or {}).items())]
    return " ".join(parts)


__all__ = ["LOADERS", "Dataset", "SyntheticConfig", "dataset_source", "generate_synthetic",
           "get_loader", "load_dataset", "loader_options"]

"""Synthetic multi-scenario shopping data with a planted cross-scenario preference structure.

Every user has a hidden *taste* (one of ``n_tastes`` clusters). Every item belongs to a taste
cluster too, and its brand and category are drawn mostly from that cluster's brands and
categories, which are shared by all scenarios. A user picks items in every scenario with
probability proportional to ``popularity ** popularity_exponent * exp(taste_strength * match)``,
where ``match`` is 1 when the item's cluster is the user's taste; popularity follows a power
law. So what a user did in a dense scenario, and which brands an item carries, both predict
what the user takes in the sparse target scenario: transfer has something real to find.

With ``adversarial=True`` one more scenario is added whose users pick items *away* from their
taste (``match`` inverted): a source that should hurt, for negative-transfer guards to catch.
It resells the target's catalogue (item ``j`` of both has the same taste and a ``SAME_PRODUCT``
link), so its inverted preferences reach the target's items through the graph, as an outlet's
bargain hunters would mislead a shop that pooled their clicks with its own customers'.

Splits: in each scenario ``cold_item_fraction`` of the items are cold-start items (all their
interactions go to valid/test); in the target ``cold_user_fraction`` of its users are cold-start
users (all their target interactions go to valid/test); of the rest, per user with at least
three interactions in a scenario, one goes to ``valid`` and one to ``test`` at random.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kg.errors import ConfigError
from kg.registry import check_fields
from kg.tables import make_tables
from loaders.base import Dataset


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of the generator; the defaults make a graph that trains in seconds on a CPU."""

    n_users: int = 600
    source_scenarios: tuple[str, ...] = ("clothing", "shoes")
    target_scenario: str = "cosmetics"
    adversarial: bool = False
    adversarial_scenario: str = "outlet"
    items_per_scenario: int = 250
    n_tastes: int = 8
    brands_per_taste: int = 4
    categories_per_taste: int = 2
    attribute_noise: float = 0.15
    source_interactions: int = 20
    target_interactions: int = 4
    target_user_fraction: float = 0.6
    popularity_exponent: float = 0.8
    taste_strength: float = 2.5
    cold_item_fraction: float = 0.1
    cold_user_fraction: float = 0.15
    seed: int = 0
    #: ``exact``: each user's items drawn without replacement by Gumbel top-k over the whole
    #: catalogue (the reference; cost users x items); ``vectorised``: the same per-taste
    #: distribution sampled with replacement in one batch per taste, repeats dropped (cost
    #: linear in the interactions, for 10^6-10^7-interaction graphs)
    sampling: str = "exact"

    def __post_init__(self):
        if self.sampling not in ("exact", "vectorised"):
            raise ConfigError(f"synthetic sampling must be 'exact' or 'vectorised', not "
                              f"{self.sampling!r}")

    @classmethod
    def from_dict(cls, data: dict) -> SyntheticConfig:
        """Build from a mapping; unknown keys are a :class:`ConfigError`."""
        defaults = check_fields(cls, data, "synthetic")
        return cls(**{k: _coerce_option(k, v, defaults[k]) for k, v in data.items()})

    @property
    def scenarios(self) -> tuple[str, ...]:
        extra = (self.adversarial_scenario,) if self.adversarial else ()
        return (*self.source_scenarios, *extra, self.target_scenario)


def _coerce_option(name: str, value: object, default: object) -> object:
    """Options from the CLI arrive as strings: convert them to the type of the default."""
    if isinstance(value, list):
        return tuple(value)
    if not isinstance(value, str) or isinstance(default, str):
        return value
    wrong = ConfigError(f"synthetic option {name}={value!r} must be of type "
                        f"{type(default).__name__}")
    if isinstance(default, bool):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise wrong
        return value.lower() in ("true", "1", "yes")
    try:
        if isinstance(default, tuple):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return type(default)(value)
    except ValueError:
        raise wrong from None


def generate_synthetic(config: SyntheticConfig | None = None) -> Dataset:
    """Generate the data set described in the module docstring.

    Returns:
        :class:`Dataset` with splits ``train``/``valid``/``test``; ``info`` records the planted
        truth (each user's and item's taste, which scenario is adversarial).
    """
    cfg = config or SyntheticConfig()
    rng = np.random.default_rng(cfg.seed)
    n_brands = cfg.n_tastes * cfg.brands_per_taste
    n_cats = cfg.n_tastes * cfg.categories_per_taste
    user_taste = rng.integers(cfg.n_tastes, size=cfg.n_users)
    users = [f"u{u}" for u in range(cfg.n_users)]

    items, attrs, inter, links = [], [], [], []
    cold_items: set[str] = set()
    item_taste: dict[str, int] = {}
    # the adversarial scenario resells the target's catalogue: same products, same tastes
    mirrored = rng.integers(cfg.n_tastes, size=cfg.items_per_scenario) if cfg.adversarial \
        else None
    for s_idx, scenario in enumerate(cfg.scenarios):
        n = cfg.items_per_scenario
        is_mirror = cfg.adversarial and scenario in (cfg.adversarial_scenario,
                                                      cfg.target_scenario)
        taste = mirrored if is_mirror else rng.integers(cfg.n_tastes, size=n)
        popularity = (1.0 + rng.permutation(n)) ** -cfg.popularity_exponent
        ids = [f"{scenario}:i{j}" for j in range(n)]
        for j, iid in enumerate(ids):
            t = int(taste[j])
            item_taste[iid] = t
            brand = (t * cfg.brands_per_taste + rng.integers(cfg.brands_per_taste)
                     if rng.random() > cfg.attribute_noise else rng.integers(n_brands))
            cat = (t * cfg.categories_per_taste + rng.integers(cfg.categories_per_taste)
                   if rng.random() > cfg.attribute_noise else rng.integers(n_cats))
            items.append((iid, scenario))
            if is_mirror and scenario == cfg.adversarial_scenario:
                links.append((iid, f"{cfg.target_scenario}:i{j}", "SAME_PRODUCT"))
            attrs += [(iid, "brand", f"brand{brand}"), (iid, "category", f"cat{cat}")]
        cold_items.update(ids[j] for j in rng.choice(n, int(cfg.cold_item_fraction * n),
                                                     replace=False))
        is_target = scenario == cfg.target_scenario
        sign = -1.0 if (cfg.adversarial and scenario == cfg.adversarial_scenario) else 1.0
        active = (rng.random(cfg.n_users) < cfg.target_user_fraction if is_target
                  else rng.random(cfg.n_users) < 0.8)
        per_user = cfg.target_interactions if is_target else cfg.source_interactions
        if cfg.sampling == "vectorised":
            inter.append(_sample_vectorised(rng, np.flatnonzero(active), user_taste, taste,
                                            popularity, per_user, sign * cfg.taste_strength,
                                            cfg.n_tastes, scenario, s_idx))
            continue
        for u in np.flatnonzero(active):
            k = max(1, min(n, int(rng.poisson(per_user)) + 1))
            match = (taste == user_taste[u]).astype(float)
            logits = np.log(popularity) + sign * cfg.taste_strength * match
            picks = np.argsort(-(logits + rng.gumbel(size=n)))[:k]
            base_ts = 1_600_000_000 + s_idx * 10_000_000
            inter += [(users[u], ids[j], scenario, 1.0, base_ts + int(rng.integers(5_000_000)))
                      for j in picks]

    if cfg.sampling == "vectorised":
        df = pd.concat(inter, ignore_index=True)
    else:
        df = pd.DataFrame(inter, columns=["user_id", "item_id", "scenario", "weight", "ts"])
    df["split"] = _split(df, cfg, cold_items, rng)
    active_users = set(df["user_id"])
    tables = make_tables(
        scenarios=pd.DataFrame({"scenario": list(cfg.scenarios)}),
        users=pd.DataFrame({"user_id": sorted(df["user_id"].unique(),
                                              key=lambda s: int(s[1:]))}),
        items=pd.DataFrame(items, columns=["item_id", "scenario"]),
        interactions=df,
        item_attributes=pd.DataFrame(attrs, columns=["item_id", "kind", "value"]),
        user_attributes=pd.DataFrame(
            [(u, "region", f"r{(t + int(rng.integers(2))) % cfg.n_tastes}")
             for u, t in zip(users, user_taste, strict=True) if u in active_users],
            columns=["user_id", "kind", "value"]),
        item_links=pd.DataFrame(links, columns=["item_id", "other_id", "relation"]),
    ).validate()
    info = {
        "config": dataclasses.asdict(cfg),
        "target_scenario": cfg.target_scenario,
        "source_scenarios": list(cfg.source_scenarios),
        "adversarial_scenario": cfg.adversarial_scenario if cfg.adversarial else None,
        "user_taste": {u: int(t) for u, t in zip(users, user_taste, strict=True)},
        "item_taste": item_taste,
    }
    return Dataset("synthetic", tables, info)


def _sample_vectorised(rng: np.random.Generator, active: np.ndarray, user_taste: np.ndarray,
                       taste: np.ndarray, popularity: np.ndarray, per_user: int,
                       strength: float, n_tastes: int, scenario: str,
                       s_idx: int) -> pd.DataFrame:
    """Interactions of ``active`` users in one scenario, drawn per taste group in one batch:
    item j with probability proportional to popularity_j x exp(strength x [same taste]), the
    distribution the exact sampler draws from, here with replacement (repeats dropped)."""
    n = len(taste)
    counts = np.minimum(n, rng.poisson(per_user, size=len(active)) + 1)
    frames = []
    for t in range(n_tastes):
        mine = user_taste[active] == t
        if not mine.any():
            continue
        weights = popularity * np.exp(strength * (taste == t))
        users = np.repeat(active[mine], counts[mine])
        picks = rng.choice(n, size=len(users), p=weights / weights.sum())
        frames.append(pd.DataFrame({"u": users, "j": picks}))
    pairs = pd.concat(frames, ignore_index=True).drop_duplicates(["u", "j"])
    base_ts = 1_600_000_000 + s_idx * 10_000_000
    return pd.DataFrame({
        "user_id": "u" + pairs["u"].astype(str),
        "item_id": f"{scenario}:i" + pairs["j"].astype(str),
        "scenario": scenario, "weight": 1.0,
        "ts": base_ts + rng.integers(5_000_000, size=len(pairs))})


def _split(df: pd.DataFrame, cfg: SyntheticConfig, cold_items: set[str],
           rng: np.random.Generator) -> np.ndarray:
    split = np.full(len(df), "train", dtype=object)
    coin = np.where(rng.random(len(df)) < 0.5, "valid", "test")
    held = df["item_id"].isin(cold_items).to_numpy().copy()
    target = (df["scenario"] == cfg.target_scenario).to_numpy()
    target_users = df.loc[target, "user_id"].unique()
    n_cold = int(cfg.cold_user_fraction * len(target_users))
    cold_users = set(rng.choice(target_users, n_cold, replace=False)) if n_cold else set()
    held = held | (target & df["user_id"].isin(cold_users).to_numpy())
    split[held] = coin[held]
    warm = df[~held]
    if cfg.sampling == "vectorised":  # two random rows of each (user, scenario) with >= 3
        order = rng.permutation(len(warm))
        shuffled = warm.iloc[order]
        keys = [shuffled["user_id"], shuffled["scenario"]]
        size = shuffled.groupby(keys, sort=False)["item_id"].transform("size").to_numpy()
        nth = shuffled.groupby(keys, sort=False).cumcount().to_numpy()
        pos = df.index.get_indexer(shuffled.index)
        split[pos[(size >= 3) & (nth == 0)]] = "valid"
        split[pos[(size >= 3) & (nth == 1)]] = "test"
        return split
    for _, rows in warm.groupby(["user_id", "scenario"], sort=False).groups.items():
        if len(rows) >= 3:
            pos = df.index.get_indexer(rng.choice(rows, 2, replace=False))
            split[pos[0]], split[pos[1]] = "valid", "test"
    return split


def load_synthetic(path: str | Path | None = None, **options) -> Dataset:
    """Loader-registry entry: generate a synthetic data set.

    Args:
        path: optional TOML file of :class:`SyntheticConfig` options (``-`` or ``None``: none).
        **options: options that override the file's.
    """
    data: dict = {}
    if path not in (None, "", "-"):
        p = Path(path)
        if p.is_file():
            try:
                data = tomllib.loads(p.read_text("utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{p}: not valid TOML: {exc}") from None
        else:
            raise ConfigError(f"{p}: synthetic options file not found (use '-' for defaults)")
    return generate_synthetic(SyntheticConfig.from_dict({**data, **options}))

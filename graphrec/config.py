"""TOML configuration of ``graphrec train`` and ``graphrec transfer``.

Example::

    [data]
    loader = "synthetic"        # a registered loader ...
    path = "-"
    options = { n_users = 600 }
    # store = "local"           # ... or a store that already holds the graph
    # dir = ".graphrec/store"

    [train]
    target = "cosmetics"
    strategy = "joint"          # train: one strategy; transfer: strategies = [...]
    dim = 64
    num_layers = 2
    epochs = 40
    seed = 0

    [split]                     # optional: re-split the target scenario (graphrec.splits)
    method = "temporal"         # "given" (default), "temporal" or "leave-one-out"
    valid = 0.1                 # temporal: fractions of the target's interactions
    test = 0.1
    fraction = 0.25             # keep 25% of the target's training interactions
    # shots = 5; per = "user"   # or keep 5 per user ("scenario": 5 in all)

    [strategy.reptile]          # optional settings of one strategy (graphrec.transfer.EXTENDED)
    iterations = 100
    [strategy.guarded]
    tolerance = 0.01

    [privacy]                   # optional (kg.privacy): applied right after loading
    pseudonymise = true         # keyed HMAC of user ids; key from $GRAPHREC_PSEUDONYM_KEY
    user_attributes = false     # keep user attributes out of the graph
    isolate = ["outlet"]        # these scenarios give only aggregated item-item links
    min_support = 3

Unknown sections or keys are errors, never silently ignored.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from graphrec.train import TrainConfig
from graphrec.transfer import EXTENDED
from kg.errors import ConfigError
from kg.privacy import PrivacyConfig

_DATA_KEYS = {"loader", "path", "options", "store", "dir"}
_RUN_KEYS = {"target", "strategy", "strategies"}
_SPLIT_KEYS = {"method", "valid", "test", "fraction", "seed", "shots", "per"}


@dataclass(frozen=True)
class RunConfig:
    """A parsed configuration file."""

    data: dict
    target: str
    strategies: tuple[str, ...]
    train: TrainConfig = field(default_factory=TrainConfig)
    split: dict = field(default_factory=dict)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    #: strategy name -> its settings (``[strategy.<name>]``)
    options: dict = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.train.model

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config") -> RunConfig:
        unknown = sorted(set(raw) - {"data", "train", "split", "privacy", "strategy"})
        if unknown:
            raise ConfigError(f"{source}: unknown section(s) {unknown}; known: ['data', "
                              "'privacy', 'split', 'strategy', 'train']")
        options = dict(raw.get("strategy", {}))
        bad = sorted(set(options) - set(EXTENDED))
        if bad:
            raise ConfigError(f"{source}: unknown [strategy.*] section(s) {bad}; strategies "
                              f"with settings: {sorted(EXTENDED)}")
        split = dict(raw.get("split", {}))
        bad = sorted(set(split) - _SPLIT_KEYS)
        if bad:
            raise ConfigError(f"{source}: unknown key(s) {bad} in [split]; known: "
                              f"{sorted(_SPLIT_KEYS)}")
        data = dict(raw.get("data", {}))
        bad = sorted(set(data) - _DATA_KEYS)
        if bad:
            raise ConfigError(f"{source}: unknown key(s) {bad} in [data]; known: "
                              f"{sorted(_DATA_KEYS)}")
        if ("loader" in data) == ("store" in data):
            raise ConfigError(f"{source}: [data] needs exactly one of 'loader' or 'store'")
        train = dict(raw.get("train", {}))
        train_keys = {f.name for f in fields(TrainConfig)}
        bad = sorted(set(train) - train_keys - _RUN_KEYS)
        if bad:
            raise ConfigError(f"{source}: unknown key(s) {bad} in [train]; known: "
                              f"{sorted(train_keys | _RUN_KEYS)}")
        if "target" not in train:
            raise ConfigError(f"{source}: [train] needs target = \"<scenario>\"")
        strategies = train.pop("strategies", None) or [train.pop("strategy", "joint")]
        train.pop("strategy", None)
        return cls(data=data, target=train.pop("target"), strategies=tuple(strategies),
                   train=TrainConfig.from_dict(train), split=split,
                   privacy=PrivacyConfig.from_dict(raw.get("privacy", {})), options=options)

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(raw, str(path))

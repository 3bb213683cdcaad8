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
    strategy = "joint"          # train: one strategy (default "joint");
                                # transfer: strategies = [...] (default ["joint", "path-gnn"])
    dim = 64
    num_layers = 2
    epochs = 40
    seed = 0

    [split]                     # optional: re-split the target scenario (graphrec.data.splits)
    method = "temporal"         # "given" (default), "temporal", "leave-one-out" or "cold-items"
    valid = 0.1                 # fractions of the target's interactions (cold-items: items)
    test = 0.1
    fraction = 0.25             # keep 25% of the target's training interactions
    # shots = 5; per = "user"   # or keep 5 per user ("scenario": 5 in all)

    [strategy.reptile]          # optional settings of one strategy (graphrec.strategies)
    iterations = 100
    [strategy.guarded]
    tolerance = 0.01

    [eval]                      # optional: how validation selects and test scores
    protocol = "full"           # "full" (default: every item of the target) or "sampled"
    min_weight = 4              # ratings below 4 are not positives (they stay candidates)
    # candidates = "split"      # rank only the items held out in the split (cold items)
    # negatives = 999; seed = 2022; ties = "expected"   # graphrec.evaluation.Protocol

    [privacy]                   # optional (kg.privacy): applied right after loading
    pseudonymise = true         # keyed HMAC of user ids; the CLI takes the key from
                                # $GRAPHREC_PSEUDONYM_KEY unless `key` is set here
    user_attributes = false     # keep user attributes out of the graph
    isolate = ["outlet"]        # these scenarios give only aggregated item-item links
    min_support = 3

Unknown sections, keys, strategies, models and strategy settings are errors when the file
loads, before any data is read; never silently ignored. A missing ``seed`` is drawn, logged and
saved with the run.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from graphrec.errors import ConfigError
from graphrec.evaluation.harness import Protocol
from graphrec.models import get_model
from graphrec.strategies import get_strategy, strategy_settings
from graphrec.training import TrainConfig
from kg.privacy import PrivacyConfig
from kg.registry import Settings

_DATA_KEYS = {"loader", "path", "options", "store", "dir"}
_RUN_KEYS = {"target", "strategy", "strategies"}
_SPLIT_KEYS = {"method", "valid", "test", "fraction", "seed", "shots", "per"}
#: a configuration's sections
SECTIONS = ("data", "train", "split", "eval", "privacy", "strategy")

#: what ``graphrec train`` trains when ``[train]`` names no strategy: the embedding model, whose
#: vectors ``graphrec embed``, ``export`` and approximate search need
TRAIN_STRATEGY = "joint"
#: what ``graphrec transfer`` compares when ``[train]`` names none (target-only joins as the
#: reference): the embedding model and the conditional GNN, the one that validates best being
#: served; the conditional GNN is the best single method measured in all comparisons but
#: two (docs/benchmarks.md) and scores by message passing, without vectors
TRANSFER_STRATEGIES = ("joint", "path-gnn")
#: the commands a configuration is read for
COMMANDS = ("train", "transfer")


def default_strategies(command: str) -> tuple[str, ...]:
    """What ``graphrec <command>`` runs when ``[train]`` names no strategy."""
    if command not in COMMANDS:
        raise ValueError(f"command must be one of {COMMANDS}, not {command!r}")
    return (TRAIN_STRATEGY,) if command == "train" else TRANSFER_STRATEGIES


def strategy_keys(strategies: tuple[str, ...]) -> dict:
    """``[train]``'s key for ``strategies``: ``strategy`` for one, ``strategies`` for more."""
    return ({"strategy": strategies[0]} if len(strategies) == 1
            else {"strategies": list(strategies)})


@dataclass(frozen=True)
class RunConfig:
    """A parsed configuration file."""

    data: dict
    target: str
    strategies: tuple[str, ...]
    train: TrainConfig = field(default_factory=TrainConfig)
    split: dict = field(default_factory=dict)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    #: strategy name -> its typed settings (``[strategy.<name>]``)
    options: dict[str, Settings] = field(default_factory=dict)
    #: ``[eval]``: the protocol of validation (which selects) and of the test scores
    eval: Protocol = field(default_factory=Protocol)

    @property
    def model(self) -> str:
        return self.train.model

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config", command: str = "train") -> RunConfig:
        """The configuration ``raw`` (TOML-shaped sections) read for ``graphrec <command>``,
        which decides the strategies when ``[train]`` names none (:data:`TRAIN_STRATEGY`,
        :data:`TRANSFER_STRATEGIES`); ``source`` names it in errors."""
        default = list(default_strategies(command))
        unknown = sorted(set(raw) - set(SECTIONS))
        if unknown:
            raise ConfigError(f"{source}: unknown section(s) {unknown}; known: "
                              f"{sorted(SECTIONS)}")
        try:
            options = strategy_settings(dict(raw.get("strategy", {})))
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
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
        strategies = (train.pop("strategies", None)
                      or ([train.pop("strategy")] if "strategy" in train else default))
        train.pop("strategy", None)
        target = train.pop("target")
        try:
            strategies = [get_strategy(s).name for s in strategies]
            settings = TrainConfig.from_dict(train)
            get_model(settings.model)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        protocol = Protocol.from_dict(dict(raw.get("eval", {})), f"{source}: [eval]")
        return cls(data=data, target=target, strategies=tuple(strategies),
                   train=settings.with_seed(), split=split,
                   privacy=PrivacyConfig.from_dict(raw.get("privacy", {})), options=options,
                   eval=protocol)

    @classmethod
    def from_file(cls, path: str | Path, overrides: list[str] | None = None,
                  command: str = "train") -> RunConfig:
        """Parse the TOML file ``path`` with ``overrides`` applied (:func:`apply_overrides`),
        for ``graphrec <command>`` (:meth:`from_dict`)."""
        return cls.from_dict(apply_overrides(read_toml(path), overrides or []), str(path),
                             command)

    def to_dict(self) -> dict:
        """The effective configuration as TOML-shaped sections (every [train] value, the
        defaults included; what ``graphrec config show`` prints)."""
        train = {"target": self.target, **strategy_keys(self.strategies)}
        train.update({f.name: getattr(self.train, f.name) for f in fields(TrainConfig)})
        out = {"data": self.data, "train": train}
        if self.split:
            out["split"] = self.split
        out["eval"] = self.eval.to_dict()
        privacy = {f.name: getattr(self.privacy, f.name) for f in fields(self.privacy)
                   if f.name != "key"}
        out["privacy"] = privacy
        if self.options:
            out["strategy"] = {name: {f.name: getattr(s, f.name) for f in fields(s)}
                               for name, s in self.options.items()}
        return out


def read_toml(path: str | Path) -> dict:
    """The parsed TOML file (a :class:`ConfigError` naming it when missing or invalid)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """``raw`` with ``section.key=value`` overrides (``-o`` on the command line); a bare
    ``key=value`` means ``train.key``, ``strategy.reptile.iterations=50`` a strategy's setting.
    Values are read as TOML (``32``, ``0.5``, ``true``, ``[1, 2]``, ``"text"``), and as plain
    text when they are not TOML. Unknown keys are refused later, as in the file."""
    out = {section: dict(value) if isinstance(value, dict) else value
           for section, value in raw.items()}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like section.key=value")
        parts = key.strip().split(".")
        if len(parts) == 1:
            parts = ["train", *parts]
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
            else:
                child = node[part] = dict(child)
            node = child
        node[parts[-1]] = value
    return out

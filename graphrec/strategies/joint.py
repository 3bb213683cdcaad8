"""``joint``: one graph and one objective over every scenario; users and attributes shared."""

from __future__ import annotations

from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun


class Joint(Strategy):
    """Joint training over all scenarios (the baseline GNN of transfer)."""

    name = "joint"

    def run(self, run: StrategyRun) -> StrategyResult:
        return run.finish(self.name, run.train(None, run.scenarios, name=self.name))

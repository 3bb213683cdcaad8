"""``target-only``: graph and training pairs hold only the target's interactions (attributes
and users stay, so cold items still get attribute messages). The reference every transfer is
judged against."""

from __future__ import annotations

from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun


class TargetOnly(Strategy):
    """No transfer: the target's own interactions alone."""

    name = "target-only"

    def run(self, run: StrategyRun) -> StrategyResult:
        trained = run.train([run.target], [run.target], name=self.name)
        return run.finish(self.name, trained, [run.target])

"""``finetune``: train on the source scenarios (graph of all interactions), then continue on
the target's pairs from those weights at half the learning rate
(theta_target = theta_source - alpha grad L_target(theta_source), iterated)."""

from __future__ import annotations

import time

from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun


class Finetune(Strategy):
    """Pre-train on the sources, fine-tune on the target; ``adapt_seconds`` is the second
    stage alone."""

    name = "finetune"

    def run(self, run: StrategyRun) -> StrategyResult:
        pre = run.train(None, run.sources, name=f"{self.name} (sources)")
        adapt_start = time.perf_counter()
        trained = run.train(None, [run.target], pre.fit.state, config=run.adapted(),
                            name=f"{self.name} (target)")
        return run.finish(self.name, trained,
                          adapt_seconds=time.perf_counter() - adapt_start)
